use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_core::ports::SystemClock;
use handoff_core::stages::decide::Decide;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let stage = Decide {
        catalog: handoff_workflows::shared(),
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(lambda::EmfStdout),
    };
    lambda_runtime::run(service_fn(|event| decide::handle(&stage, event))).await
}
