//! The `Model` port: one structured answer for one AI task. The reason
//! stage builds the prompt, validates every answer against the task's
//! schema and decides what a failure means; an adapter only transports.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::Feedback;
use crate::ports::ModelArtifacts;
use handoff_spec::{TaskSpec, Workflow};

/// What an LLM tier is sent: provider-neutral, built once per task by the
/// reason stage. A repair attempt appends the answer and the errors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prompt {
    /// Names the schema (or the forced tool) at the provider: the task name.
    pub name: String,
    pub system: String,
    pub turns: Vec<Turn>,
    /// The JSON Schema the answer object must meet.
    pub schema: Value,
    /// Upper bound on the answer's tokens.
    pub max_output_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "role", content = "text", rename_all = "lowercase")]
pub enum Turn {
    User(String),
    Assistant(String),
}

pub struct ModelRequest<'a> {
    pub workflow: &'a Workflow,
    pub task: &'a TaskSpec,
    /// The inbound text as received, for tiers that read it themselves (the
    /// embedded tier runs in-process: nothing leaves it).
    pub text: &'a str,
    /// Reviewer-corrected examples, most recent first.
    pub feedback: &'a [Feedback],
    pub prompt: &'a Prompt,
    /// Where trained models are kept: the embedded tier uses the newest
    /// one rather than training on `feedback` itself.
    pub models: Option<&'a dyn ModelArtifacts>,
}

/// A tier's answer before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelAnswer {
    /// The answer object the schema applies to.
    pub value: Value,
    /// Tokens and time, for tiers that bill by the token.
    pub usage: Option<ModelUsage>,
    /// The provider's model id, as it reported it.
    pub model: String,
    /// What the audit trail should keep about how the answer was made (a
    /// fallback to a lesser model, say).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub latency_ms: u64,
}

impl ModelUsage {
    pub fn add(&mut self, other: ModelUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.latency_ms += other.latency_ms;
    }

    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Every way a call can go wrong, kept apart because each is recorded as
/// its own outcome and some are worth a wait and another try.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// No connection, DNS, TLS, or a client-side error.
    #[error("model unavailable: {0}")]
    Unavailable(String),
    #[error("model did not answer within {0} ms")]
    Timeout(u64),
    /// HTTP 429 or a throttling error.
    #[error("model rate-limited{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx or the provider's own internal error.
    #[error("model server error {status}: {detail}")]
    Server { status: u16, detail: String },
    /// The model declined (a refusal, a content filter, a guardrail).
    #[error("model refused: {0}")]
    Refused(String),
    #[error("model gave an empty answer")]
    Empty,
    /// Not JSON, or no tool call where one was forced.
    #[error("model output invalid: {0}")]
    Invalid(String),
    /// This tier does not do this kind of task.
    #[error("{0}")]
    Unsupported(String),
}

impl ModelError {
    /// The outcome's name in the audit trail and the metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            ModelError::Unavailable(_) => "unavailable",
            ModelError::Timeout(_) => "timeout",
            ModelError::RateLimited { .. } => "rate_limited",
            ModelError::Server { .. } => "server_error",
            ModelError::Refused(_) => "refused",
            ModelError::Empty => "empty",
            ModelError::Invalid(_) => "invalid",
            ModelError::Unsupported(_) => "unsupported",
        }
    }
}

#[async_trait]
pub trait Model: Send + Sync {
    async fn answer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError>;
}
