use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_aws::sfn::StepFunctions;
use handoff_core::ports::SystemClock;
use handoff_core::stages::starter::Starter;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let stage = Starter {
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        executions: Arc::new(StepFunctions::from_config(
            &config,
            env("HANDOFF_STATE_MACHINE_ARN")?,
        )),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(lambda::EmfStdout),
    };
    lambda_runtime::run(service_fn(|event| starter::handle(&stage, event))).await
}
