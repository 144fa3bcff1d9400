//! The `reason` task the state machine invokes with the claim check `{run_id, workflow}`.

use handoff_aws::lambda::{run_stage, EmfStdout, StageFailure};
use handoff_core::domain::RunRef;
use handoff_core::stages::reason::Reason;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::sync::Arc;

use handoff_aws::bedrock::BedrockModel;
use handoff_core::model::Tiers;
use handoff_core::observe::emf::TokenPrice;

pub async fn handle(stage: &Reason, event: LambdaEvent<RunRef>) -> Result<Value, StageFailure> {
    let run = event.payload;
    let (run_id, workflow) = (run.run_id.to_string(), run.workflow.clone());
    run_stage(&EmfStdout, "reason", &run_id, &workflow, stage.run(&run)).await
}

/// The embedded tier, plus the LLM tiers the function's environment
/// configures. `HANDOFF_MODEL_ID` (the template's `ModelId`) names a
/// Bedrock model that serves both `fast` and `strong`.
pub async fn tiers(config: &aws_config::SdkConfig) -> Result<Tiers, lambda_runtime::Error> {
    let mut tiers = Tiers::embedded_only();
    if let Ok(id) = std::env::var("HANDOFF_MODEL_ID") {
        let id = id.trim();
        if !id.is_empty() {
            let price = TokenPrice {
                input_per_1k: price("HANDOFF_MODEL_PRICE_INPUT_PER_1K"),
                output_per_1k: price("HANDOFF_MODEL_PRICE_OUTPUT_PER_1K"),
            };
            let bedrock = Arc::new(BedrockModel::from_config(config, id));
            for name in ["fast", "strong"] {
                tiers = tiers.with(name, bedrock.clone(), price);
            }
        }
    }
    Ok(tiers)
}

/// A price in US dollars from the environment; unset or unreadable is free,
/// so cost metrics read zero rather than the function failing to start.
fn price(name: &str) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}
