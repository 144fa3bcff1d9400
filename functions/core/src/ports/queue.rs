use async_trait::async_trait;

use crate::domain::RunMessage;

#[derive(Debug, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct QueueError(pub String);

#[async_trait]
pub trait RunQueue: Send + Sync {
    async fn enqueue(&self, message: &RunMessage) -> Result<(), QueueError>;
}
