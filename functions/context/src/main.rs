use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::http_fetch::HttpFetcher;
use handoff_aws::lambda::{self, env};
use handoff_aws::outbound::OutboundPolicy;
use handoff_aws::s3::S3Documents;
use handoff_aws::secrets::SecretsManager;
use handoff_aws::textract::Textract;
use handoff_core::ports::SystemClock;
use handoff_core::stages::context::LoadContext;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let catalog = handoff_workflows::shared();
    let fetcher = HttpFetcher::new(OutboundPolicy::for_catalog(&catalog))?;
    let stage = LoadContext {
        catalog,
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        fetcher: Arc::new(fetcher),
        secrets: Arc::new(SecretsManager::from_env(&config)?),
        clock: Arc::new(SystemClock),
        documents: Arc::new(S3Documents::from_env(&config)?),
        ocr: Arc::new(Textract::from_config(&config)),
    };
    lambda_runtime::run(service_fn(|event| context::handle(&stage, event))).await
}
