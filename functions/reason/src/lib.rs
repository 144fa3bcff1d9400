//! The `reason` task the state machine invokes with the claim check `{run_id, workflow}`.

use handoff_aws::lambda::{stage_task, StageFailure};
use handoff_core::domain::RunRef;
use handoff_core::stages::reason::Reason;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use std::sync::Arc;

use handoff_aws::bedrock::BedrockModel;
use handoff_aws::secrets::SecretsManager;
use handoff_core::model::Tiers;
use handoff_core::observe::emf::TokenPrice;
use handoff_core::ports::{Model, Secrets};
use handoff_llm::config::{ConfigError, ModelsConfig, ProviderKind};
use handoff_llm::LlmModel;

pub async fn handle(stage: &Reason, event: LambdaEvent<RunRef>) -> Result<Value, StageFailure> {
    stage_task(stage, event).await
}

/// The embedded tier, plus the LLM tiers the function's environment
/// configures: `HANDOFF_MODELS` (the template's `ModelsConfig`, the models
/// file's shape as JSON or YAML; keys from Secrets Manager through each
/// tier's `api_key_secret`), or else `HANDOFF_MODEL_ID` (the template's
/// `ModelId`), a Bedrock model that serves both `fast` and `strong`.
pub async fn tiers(config: &aws_config::SdkConfig) -> Result<Tiers, lambda_runtime::Error> {
    let models = std::env::var("HANDOFF_MODELS").unwrap_or_default();
    if !models.trim().is_empty() {
        let models = ModelsConfig::parse(&models)?;
        let secrets = SecretsManager::from_config(
            config,
            std::env::var("HANDOFF_SECRET_PREFIX").unwrap_or_default(),
            std::time::Duration::from_secs(300),
        );
        return Ok(configured(config, &models, &secrets).await?);
    }
    let mut tiers = Tiers::embedded_only();
    let id = std::env::var("HANDOFF_MODEL_ID").unwrap_or_default();
    if !id.trim().is_empty() {
        let price = TokenPrice {
            input_per_1k: price("HANDOFF_MODEL_PRICE_INPUT_PER_1K"),
            output_per_1k: price("HANDOFF_MODEL_PRICE_OUTPUT_PER_1K"),
        };
        let bedrock = Arc::new(BedrockModel::from_config(config, id.trim()));
        for name in ["fast", "strong"] {
            tiers = tiers.with(name, id.trim(), bedrock.clone(), price);
        }
    }
    Ok(tiers)
}

/// Each configured tier: Bedrock with the function's credentials, the
/// others through their HTTP provider with the key from its secret.
pub async fn configured(
    config: &aws_config::SdkConfig,
    models: &ModelsConfig,
    secrets: &dyn Secrets,
) -> Result<Tiers, ConfigError> {
    let mut tiers = Tiers::embedded_only();
    let client = reqwest::Client::new();
    for (name, model) in &models.tiers {
        model.check(name)?;
        let answerer: Arc<dyn Model> = match model.provider {
            ProviderKind::Bedrock => {
                let mut bedrock = BedrockModel::from_config(config, &model.model);
                bedrock.timeout = std::time::Duration::from_millis(model.timeout_ms);
                Arc::new(bedrock)
            }
            _ => {
                let key = match &model.api_key_secret {
                    Some(secret) => Some(
                        secrets
                            .get(secret)
                            .await
                            .map_err(|e| ConfigError::new(Some(name), e.to_string()))?
                            .current,
                    ),
                    None => None,
                };
                Arc::new(LlmModel::new(model.provider(name, key, client.clone())?))
            }
        };
        tiers = tiers.with(name, &model.model, answerer, model.token_price());
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
