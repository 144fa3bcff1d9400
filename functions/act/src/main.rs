use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::http_sink::HttpActionSink;
use handoff_aws::lambda::{self, env};
use handoff_aws::outbound::OutboundPolicy;
use handoff_aws::secrets::SecretsManager;
use handoff_aws::ses::SesMailer;
use handoff_core::ports::SystemClock;
use handoff_core::stages::act::Act;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let mailer = SesMailer::from_env(&config).ok().map(|m| Arc::new(m) as _);
    let catalog = handoff_workflows::shared();
    let outbound = OutboundPolicy::for_catalog(&catalog);
    let stage = Act {
        catalog,
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        sink: Arc::new(HttpActionSink::new(outbound, mailer)?),
        secrets: Arc::new(SecretsManager::from_env(&config)?),
        clock: Arc::new(SystemClock),
        dry_run: false,
    };
    lambda_runtime::run(service_fn(|event| act::handle(&stage, event))).await
}
