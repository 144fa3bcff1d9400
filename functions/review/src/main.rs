use std::sync::Arc;

use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_core::model::EmbeddedModel;
use handoff_core::ports::{Clock, RunStore, SystemClock};
use handoff_core::stages::train::Train;
use lambda_runtime::{service_fn, Error};
use review::Reviewer;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    // The trainer embeds with the same encoder as the reason function, or
    // its models would not fit there.
    handoff_core::model::load_encoder();
    let config = lambda::aws_config().await;
    let catalog = handoff_workflows::shared();
    let store: Arc<dyn RunStore> =
        Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let reviewer = Reviewer {
        catalog: catalog.clone(),
        store: store.clone(),
        clock: clock.clone(),
        days: 7,
        metrics: Arc::new(lambda::EmfStdout),
        train: Train {
            catalog,
            store,
            model: Arc::new(EmbeddedModel::new()),
            clock,
        },
    };
    lambda_runtime::run(service_fn(|event| review::handle(&reviewer, event))).await
}
