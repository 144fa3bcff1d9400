use std::collections::BTreeMap;
use std::time::Instant;

use async_trait::async_trait;

/// A fully rendered outbound call; the sink only transports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRequest {
    pub run_id: String,
    pub action: String,
    /// `webhook`, `slack`, `email` or `http`.
    pub kind: String,
    pub idempotency_key: String,
    pub method: String,
    /// For e-mail: the recipient.
    pub target: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// For e-mail.
    pub subject: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionDelivery {
    pub status_code: Option<u16>,
    pub attempts: u32,
    pub response_excerpt: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The receiver refused for good (a 4xx other than 429).
    #[error("action rejected with status {status}: {excerpt}")]
    Rejected {
        status: u16,
        excerpt: String,
        attempts: u32,
    },
    /// Retries ran out.
    #[error("action failed after {attempts} attempts: {reason}")]
    Exhausted { reason: String, attempts: u32 },
}

#[async_trait]
pub trait ActionSink: Send + Sync {
    /// Sends `request`, retrying as the sink's policy says, but starting no
    /// attempt and no wait that `deadline` would cut short: an invocation
    /// killed mid-retry records nothing, one that gives up in time records
    /// why and is retried by the state machine. `None`: no deadline.
    async fn perform(
        &self,
        request: &ActionRequest,
        deadline: Option<Instant>,
    ) -> Result<ActionDelivery, ActionError>;
}
