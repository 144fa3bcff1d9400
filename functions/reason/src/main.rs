use std::sync::Arc;

use handoff_aws::bedrock::BedrockModel;
use handoff_aws::dynamo::DynamoStore;
use handoff_aws::lambda::{self, env};
use handoff_core::model::{CascadeModel, EmbeddedModel};
use handoff_core::observe::emf::TokenPrice;
use handoff_core::ports::{Model, SystemClock};
use handoff_core::stages::reason::Reason;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let config = lambda::aws_config().await;
    // The embedded classifier answers alone unless a Bedrock model is
    // configured; then Bedrock is asked only when it is unsure.
    let model: Arc<dyn Model> = match std::env::var("HANDOFF_MODEL_ID") {
        Ok(id) if !id.trim().is_empty() => Arc::new(CascadeModel::new(vec![
            Arc::new(EmbeddedModel::new()),
            Arc::new(BedrockModel::from_config(&config, id.trim())),
        ])),
        _ => Arc::new(EmbeddedModel::new()),
    };
    let stage = Reason {
        catalog: handoff_workflows::shared(),
        store: Arc::new(DynamoStore::from_config(&config, env("HANDOFF_TABLE")?)),
        model,
        clock: Arc::new(SystemClock),
        metrics: Arc::new(lambda::EmfStdout),
        price: TokenPrice {
            input_per_1k: price("HANDOFF_MODEL_PRICE_INPUT_PER_1K"),
            output_per_1k: price("HANDOFF_MODEL_PRICE_OUTPUT_PER_1K"),
        },
    };
    lambda_runtime::run(service_fn(|event| reason::handle(&stage, event))).await
}

/// A price in US dollars from the environment; unset or unreadable is free,
/// so cost metrics read zero rather than the function failing to start.
fn price(name: &str) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
