use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_aws::secrets::SecretsManager;
use handoff_aws::sfn::StepFunctions;
use handoff_core::pages::console::Console;
use handoff_core::ports::SystemClock;
use handoff_core::stages::read::ReadApi;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let stage = ReadApi {
        catalog: handoff_workflows::shared(),
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        secrets: Arc::new(SecretsManager::from_env(&config)?),
        clock: Arc::new(SystemClock),
        token_secret: env("HANDOFF_TOKEN_SECRET")?,
        executions: Arc::new(StepFunctions::from_config(
            &config,
            env("HANDOFF_STATE_MACHINE_ARN")?,
        )),
        console: Console::DEPLOYED,
    };
    lambda_runtime::run(service_fn(|event| api::handle(&stage, event))).await
}
