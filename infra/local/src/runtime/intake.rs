//! The intake queue between ingest and the starter, with the SQS settings
//! from the template: a message that fails to start comes back after the
//! visibility timeout and moves to the dead-letter queue after
//! `maxReceiveCount` receives.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use handoff_core::domain::{AuditEvent, CanonicalEvent, DedupeKey, Run, RunMessage};
use handoff_core::ports::{Clock, Created, IntakeError, QueueError, RunIntake};
use handoff_core::stages::starter::Starter;
use tokio::sync::{Notify, Semaphore};
use tracing::{error, warn};

use crate::sqlite::SqliteStore;
use crate::store::IntakeQueue;
use crate::template::QueueSettings;

/// A run message as the queue carries it.
fn body(message: &RunMessage) -> String {
    serde_json::to_string(message).expect("run messages serialise")
}

/// Intake on the one SQLite file that holds both the run store and the
/// queue: the run and its message in one transaction.
pub struct LocalIntake {
    pub store: Arc<SqliteStore>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the intake loop at once instead of at its next poll.
    pub wake: Arc<Notify>,
}

#[async_trait]
impl RunIntake for LocalIntake {
    async fn accept(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Created, IntakeError> {
        let message = body(&RunMessage::of(run));
        let created = self
            .store
            .create_run_queued(run, event, dedupe, received, &message, self.clock.now())
            .await?;
        if created == Created::New {
            self.wake.notify_one();
        }
        Ok(created)
    }

    async fn requeue(&self, message: &RunMessage) -> Result<(), QueueError> {
        self.store
            .send(&body(message), self.clock.now())
            .await
            .map_err(|e| QueueError(e.to_string()))?;
        self.wake.notify_one();
        Ok(())
    }
}

/// How many runs the starter starts at once.
const CONCURRENCY: usize = 16;
/// SQS's largest batch.
const BATCH: usize = 10;
/// How often an idle loop looks again (messages becoming visible again).
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Receives run messages and starts one execution per run, forever.
pub async fn intake_loop(
    queue: Arc<dyn IntakeQueue>,
    starter: Arc<Starter>,
    settings: QueueSettings,
    wake: Arc<Notify>,
    clock: Arc<dyn Clock>,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
        let room = permits.available_permits().min(BATCH);
        if room == 0 {
            // Wait for one start to finish before receiving more.
            drop(permits.acquire().await);
            continue;
        }
        let received = queue
            .receive(
                room,
                settings.visibility_timeout_seconds,
                settings.max_receive_count,
                clock.now(),
            )
            .await;
        let messages = match received {
            Ok(m) => m,
            Err(e) => {
                error!(error = %e, "intake queue unavailable");
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
        };
        if messages.is_empty() {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }
        let permit = permits
            .clone()
            .acquire_many_owned(messages.len() as u32)
            .await
            .expect("semaphore open");
        let queue = queue.clone();
        let starter = starter.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let batch: Vec<(String, String)> = messages
                .iter()
                .map(|m| (m.id.clone(), m.body.clone()))
                .collect();
            let failed = starter.start_batch(&batch).await;
            for message in messages.iter().filter(|m| !failed.contains(&m.id)) {
                if let Err(e) = queue.delete(&message.receipt).await {
                    warn!(message_id = %message.id, error = %e, "started but not deleted; it will be seen again");
                }
            }
        });
    }
}
