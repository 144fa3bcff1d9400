use async_trait::async_trait;

use crate::domain::{ApprovalId, RunId};

/// A message to one reviewer; it carries only that reviewer's own link.
/// Shared channels (Slack, webhooks) get `shared_text` and `claim_link`
/// instead: a page that e-mails the reviewer their signed link, so nobody
/// else in the channel holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub run_id: RunId,
    pub approval_id: ApprovalId,
    pub workflow: String,
    pub reviewer: String,
    pub subject: String,
    /// For the reviewer's own inbox: ends with their signed link.
    pub text: String,
    /// The signed link: a capability for this reviewer alone.
    pub link: String,
    /// For a shared channel: no capability in it.
    pub shared_text: String,
    /// `/approvals/{id}/claim?r=<reviewer>`: sends the signed link to the
    /// reviewer's own address.
    pub claim_link: String,
    /// A reminder of an earlier request (same link).
    pub reminder: bool,
    /// Only to the reviewer's own address, never a shared channel (a blind
    /// audit: no claim page, and nobody else should see it).
    pub private: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("notification failed: {0}")]
pub struct NotifyError(pub String);

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}
