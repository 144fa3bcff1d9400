use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_core::model::EmbeddedModel;
use handoff_core::ports::SystemClock;
use handoff_core::stages::reason::Reason;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let stage = Reason {
        catalog: handoff_workflows::shared(),
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        model: Arc::new(EmbeddedModel::new()),
        clock: Arc::new(SystemClock),
    };
    lambda_runtime::run(service_fn(|event| reason::handle(&stage, event))).await
}
