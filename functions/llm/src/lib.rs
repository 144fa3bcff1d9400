//! Transport adapters for hosted LLMs: one structured call in, one JSON
//! object (and what it cost) out.
//!
//! The AI step of a workflow needs a single thing from a model: an object
//! that meets the task's JSON Schema. Every provider gets there by its own
//! wire format (OpenAI's `response_format`, a forced tool call, Anthropic's
//! `tool_use` block) and fails in its own way (429s with `Retry-After`, 529
//! "overloaded", refusals, prose instead of JSON). This crate hides the
//! difference behind [`Provider`] and sorts every failure into a
//! [`CallError`] the caller can act on: wait and retry, fall back to another
//! model, or treat the answer as the model's fault.
//!
//! The transport deliberately knows nothing of handoff's domain types. The
//! glue to the core `Model` port (`LlmModel`) and the models configuration
//! that maps tier names to providers (`config`) sit behind the `port`
//! feature, so the transport builds without the core. Nothing here validates
//! an answer against its schema; the caller owns that, with the error
//! messages it wants.
//!
//! With the `test-util` feature, [`testing::ScriptedServer`] speaks both wire
//! formats on loopback from a script of [`testing::Step`]s, so tests of the
//! layers above exercise real HTTP without a network or a key.

use std::time::Duration;

use async_trait::async_trait;

mod anthropic;
mod attachment;
#[cfg(feature = "port")]
pub mod config;
mod http;
mod openai;
#[cfg(feature = "port")]
mod port;
#[cfg(feature = "test-util")]
mod schema;
#[cfg(feature = "test-util")]
pub mod testing;

pub use anthropic::Anthropic;
pub use attachment::{Attachment, Image};
pub use openai::{Auth, OpenAiCompatible, Structured};
#[cfg(feature = "port")]
pub use port::LlmModel;

/// Who said a turn of the conversation. The system prompt is not a turn: it
/// travels in [`Call::system`], because the providers place it differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One request for a structured answer. Borrowed, so a caller that retries
/// or falls back to a second provider builds the prompt once.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The AI task's name. It names the schema or the forced tool, which
    /// several providers show the model, so a meaningful name helps.
    pub name: &'a str,
    /// Instructions above the conversation; left out of the request when empty.
    pub system: &'a str,
    /// The conversation so far, oldest first. A repair attempt appends the
    /// model's bad answer and a user turn saying what was wrong with it.
    pub turns: &'a [(Role, String)],
    /// Documents shown with the first user turn, before its text.
    pub attachments: &'a [Attachment<'a>],
    /// The JSON Schema the answer object must meet; sent as is.
    pub schema: &'a serde_json::Value,
    /// A hard cap on the answer's length, and so on its cost.
    pub max_output_tokens: u32,
}

/// The model's answer and what it cost. Token counts are the provider's own
/// (0 when it did not say), so budgets and the run log add up to the bill.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The answer: always a JSON object, not yet checked against the schema.
    pub value: serde_json::Value,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The model that answered as the provider names it (a dated snapshot
    /// rather than an alias, where it says), else the configured one.
    pub model: String,
}

/// Why a call gave no answer, sorted by what the caller should do next.
///
/// The first four are the transport's or the provider's fault: the same call
/// may well succeed later or elsewhere. The last three are the model's:
/// retrying the same prompt on the same model rarely helps, a repair turn or
/// another model might. No variant ever carries an API key: providers scrub
/// their key from every message, and request headers are never formatted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The provider could not be reached or would not serve this request:
    /// connection and DNS failures, and 4xx statuses other than 429 (a bad
    /// key, an unknown model, a malformed request). The message says which.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// No complete answer within the configured timeout, in milliseconds.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// HTTP 429. `retry_after` is the provider's own hint, when it gave one.
    #[error("rate limited{}", match .retry_after { Some(d) => format!(", retry after {} ms", d.as_millis()), None => String::new() })]
    RateLimited { retry_after: Option<Duration> },
    /// A 5xx, including Anthropic's 529 "overloaded"; `detail` is the
    /// provider's message, cut to 300 characters.
    #[error("provider error {status}: {detail}")]
    Server { status: u16, detail: String },
    /// The model or the provider's filter declined to answer; the text is
    /// its stated reason, when it gave one.
    #[error("the model refused: {0}")]
    Refused(String),
    /// A well-formed response with nothing in it.
    #[error("the model gave an empty answer")]
    Empty,
    /// An answer that is not a JSON object, or a response that is not the
    /// provider's format. The message says what was wrong and quotes at most
    /// 200 characters of it.
    #[error("invalid answer: {0}")]
    Invalid(String),
}

/// A hosted model that answers a [`Call`] with a JSON object.
///
/// Implementations make exactly one logical call (the OpenAI adapter may
/// need a second request to fall back to a forced tool) and never retry:
/// the policy of when to wait, retry or switch model belongs to the caller,
/// which also knows the run's deadline and budget.
#[async_trait]
pub trait Provider: Send + Sync {
    async fn call(&self, call: &Call<'_>) -> Result<Reply, CallError>;
}
