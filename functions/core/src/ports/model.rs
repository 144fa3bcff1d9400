use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::domain::Feedback;
use handoff_spec::Workflow;

pub struct ModelRequest<'a> {
    pub workflow: &'a Workflow,
    pub text: &'a str,
    /// Reviewer-corrected examples, most relevant first.
    pub feedback: &'a [Feedback],
}

/// A model's raw answer, before the reason stage validates it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelAnswer {
    pub label: String,
    pub confidence: f64,
    pub rationale: String,
    pub fields: BTreeMap<String, serde_json::Value>,
    pub tier: String,
    /// Tokens and time spent, for tiers that bill by the token.
    pub usage: Option<ModelUsage>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model unavailable: {0}")]
    Unavailable(String),
    #[error("model output invalid: {0}")]
    Invalid(String),
}

#[async_trait]
pub trait Model: Send + Sync {
    async fn infer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError>;
}
