use std::sync::Arc;

use async_trait::async_trait;

use super::{Created, QueueError, RunQueue, RunStore, StoreError};
use crate::domain::{AuditEvent, CanonicalEvent, DedupeKey, Run, RunMessage};

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Stores a new run (see [`super::Runs::create_run`]) and, unless it is a
/// duplicate, queues its [`RunMessage`]: what intake does with every
/// webhook; and queues a stored run again when its first message was lost.
/// [`StoreThenQueue`] writes the run and then sends the message (DynamoDB,
/// then SQS); a backend that holds both (the local runtime's one SQLite
/// file) does both in one transaction.
#[async_trait]
pub trait RunIntake: Send + Sync {
    async fn accept(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Created, IntakeError>;

    /// Queues the message of a run stored before (the execution name is
    /// the run id, so a second message starts nothing new).
    async fn requeue(&self, message: &RunMessage) -> Result<(), QueueError>;
}

/// The run store's write, then the queue's send. A failure between the
/// two leaves a stored run without a message; the sender's retry (a
/// duplicate) queues it again once the first attempt can no longer be in
/// flight (see the ingest stage).
pub struct StoreThenQueue {
    pub store: Arc<dyn RunStore>,
    pub queue: Arc<dyn RunQueue>,
}

#[async_trait]
impl RunIntake for StoreThenQueue {
    async fn accept(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Created, IntakeError> {
        let created = self.store.create_run(run, event, dedupe, received).await?;
        if created == Created::New {
            self.queue.enqueue(&RunMessage::of(run)).await?;
        }
        Ok(created)
    }

    async fn requeue(&self, message: &RunMessage) -> Result<(), QueueError> {
        self.queue.enqueue(message).await
    }
}
