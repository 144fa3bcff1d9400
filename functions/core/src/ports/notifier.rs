use async_trait::async_trait;

use crate::domain::{ApprovalId, RunId};

/// A message to one reviewer; it carries only that reviewer's own link.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub run_id: RunId,
    pub approval_id: ApprovalId,
    pub workflow: String,
    pub reviewer: String,
    pub subject: String,
    pub text: String,
    pub link: String,
    /// A reminder of an earlier request (same link).
    pub reminder: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("notification failed: {0}")]
pub struct NotifyError(pub String);

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}
