use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_core::ports::SystemClock;
use lambda_runtime::{service_fn, Error};
use review::Reviewer;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let reviewer = Reviewer {
        catalog: handoff_workflows::shared(),
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        clock: Arc::new(SystemClock),
        days: 7,
    };
    lambda_runtime::run(service_fn(|event| review::handle(&reviewer, event))).await
}
