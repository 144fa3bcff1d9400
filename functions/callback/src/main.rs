use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_aws::s3::S3Documents;
use handoff_aws::secrets::SecretsManager;
use handoff_aws::ses::{SesMailer, SesNotifier};
use handoff_aws::sfn::StepFunctions;
use handoff_core::ports::SystemClock;
use handoff_core::stages::callback::Callback;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let stage = Callback {
        catalog: handoff_workflows::shared(),
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        // Task tokens carry their execution; the ARN is only for starting.
        executions: Arc::new(StepFunctions::from_config(&config, String::new())),
        secrets: Arc::new(SecretsManager::from_env(&config)?),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(lambda::EmfStdout),
        link_secret: env("HANDOFF_LINK_SECRET")?,
        email: Arc::new(SesNotifier::new(Arc::new(SesMailer::from_env(&config)?))),
        documents: Arc::new(S3Documents::from_env(&config)?),
        public_url: std::env::var("HANDOFF_PUBLIC_URL").unwrap_or_default(),
    };
    lambda_runtime::run(service_fn(|event| callback::handle_event(&stage, event))).await
}
