use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::http_fetch::HttpFetcher;
use handoff_aws::lambda::{self, env};
use handoff_aws::outbound::OutboundPolicy;
use handoff_aws::s3::{S3Documents, S3Mailbox};
use handoff_aws::secrets::SecretsManager;
use handoff_aws::sqs::SqsQueue;
use handoff_core::ports::{StoreThenQueue, SystemClock};
use handoff_core::stages::ingest::Ingest;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    let store = Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?));
    let queue = Arc::new(SqsQueue::from_config(&config, env("HANDOFF_QUEUE_URL")?));
    let catalog = handoff_workflows::shared();
    let fetcher = HttpFetcher::new(OutboundPolicy::for_catalog(&catalog))?;
    let stage = Ingest {
        catalog,
        intake: Arc::new(StoreThenQueue {
            store: store.clone(),
            queue,
        }),
        store,
        secrets: Arc::new(SecretsManager::from_env(&config)?),
        clock: Arc::new(SystemClock),
        metrics: Arc::new(lambda::EmfStdout),
        documents: Arc::new(S3Documents::from_env(&config)?),
        fetcher: Arc::new(fetcher),
    };
    let mailbox = S3Mailbox::from_env(&config)?;
    lambda_runtime::run(service_fn(|event| {
        ingest::handle_event(&stage, &mailbox, event)
    }))
    .await
}
