use async_trait::async_trait;

use crate::domain::RunId;

/// A message to one reviewer; it carries only that reviewer's own link.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub run_id: RunId,
    pub workflow: String,
    pub reviewer: String,
    pub subject: String,
    pub text: String,
    pub link: String,
}

#[derive(Debug, thiserror::Error)]
#[error("notification failed: {0}")]
pub struct NotifyError(pub String);

#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError>;
}
