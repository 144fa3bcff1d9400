use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::http_sink::HttpActionSink;
use handoff_aws::lambda::{self, env};
use handoff_aws::outbound::OutboundPolicy;
use handoff_aws::secrets::SecretsManager;
use handoff_aws::ses::{SesMailer, SesNotifier};
use handoff_core::notify::ChannelNotifier;
use handoff_core::ports::SystemClock;
use handoff_core::stages::approval::ApprovalTasks;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let mailer = Arc::new(SesMailer::from_env(&config)?);
    let catalog = handoff_workflows::shared();
    let secrets = Arc::new(SecretsManager::from_env(&config)?);
    let clock = Arc::new(SystemClock);
    let notifier = ChannelNotifier {
        catalog: catalog.clone(),
        email: Arc::new(SesNotifier::new(mailer)),
        sink: Arc::new(HttpActionSink::new(
            OutboundPolicy::for_catalog(&catalog),
            None,
        )?),
        secrets: secrets.clone(),
        clock: clock.clone(),
    };
    let stage = ApprovalTasks {
        catalog,
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        notifier: Arc::new(notifier),
        secrets,
        clock,
        link_secret: env("HANDOFF_LINK_SECRET")?,
        public_url: env("HANDOFF_PUBLIC_URL")?,
    };
    lambda_runtime::run(service_fn(|event| approval::handle(&stage, event))).await
}
