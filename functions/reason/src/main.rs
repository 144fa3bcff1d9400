use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_aws::s3::S3Documents;
use handoff_core::ports::SystemClock;
use handoff_core::stages::reason::Reason;
use lambda_runtime::{service_fn, Error};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    // In the init phase, which is not billed per message and runs at full
    // CPU, rather than inside the first run.
    handoff_core::model::load_encoder();
    let config = lambda::aws_config().await;
    let stage = Reason {
        catalog: handoff_workflows::shared(),
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        documents: Arc::new(S3Documents::from_env(&config)?),
        tiers: reason::tiers(&config).await?,
        clock: Arc::new(SystemClock),
        metrics: Arc::new(lambda::EmfStdout),
    };
    lambda_runtime::run(service_fn(|event| reason::handle(&stage, event))).await
}
