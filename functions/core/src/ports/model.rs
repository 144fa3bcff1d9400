//! The `Model` port: one structured answer for one AI task. The reason
//! stage builds the prompt, validates every answer against the task's
//! schema and decides what a failure means; an adapter only transports.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
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
    /// The run's documents as themselves, for a task that reads them as
    /// pages: shown with the first user turn, beside its text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<PromptDocument>,
}

/// One document as a model sees it, in a provider-neutral shape: each
/// adapter picks what its provider reads (the PDF whole, or its pages).
///
/// It serialises as what identifies it (its hash and the pages shown),
/// never its bytes: a prompt's serialised form keys the answer cache and
/// goes into traces.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptDocument {
    /// As the prompt's text numbers it: `[document N, …]`.
    pub number: usize,
    /// `sha256:<hex>` of the document's bytes.
    pub sha256: String,
    /// The PDF itself when every page of it is shown; `None` for an image
    /// or a PDF cut to the page bound.
    pub pdf: Option<DocumentBytes>,
    /// Its first pages as images, in order: a PDF's rendered as PNG, a TIFF
    /// as PNG, a PNG or JPEG as it is.
    pub pages: Vec<PromptImage>,
    /// Pages the document has; more than `pages.len()` when it was cut.
    pub page_count: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PromptImage {
    /// `image/png` or `image/jpeg`.
    pub media_type: &'static str,
    pub bytes: DocumentBytes,
}

/// A document's or a page's bytes: cheap to clone (a prompt is cloned per
/// call), and shown by `Debug` as their length only, so a logged prompt
/// never carries them.
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentBytes(Arc<[u8]>);

impl From<Vec<u8>> for DocumentBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }
}

impl std::ops::Deref for DocumentBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for DocumentBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl Serialize for PromptDocument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("PromptDocument", 5)?;
        out.serialize_field("document", &self.number)?;
        out.serialize_field("sha256", &self.sha256)?;
        out.serialize_field("whole_pdf", &self.pdf.is_some())?;
        out.serialize_field("pages_shown", &self.pages.len())?;
        out.serialize_field("pages", &self.page_count)?;
        out.end()
    }
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
