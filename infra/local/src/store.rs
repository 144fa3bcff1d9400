//! What the local runtime keeps beyond the core's run store: the state of
//! every execution (persisted at each transition), the intake queue with SQS
//! semantics, and the outbox of notifications and actions. SQLite implements
//! all of it (`sqlite`), in the same database file as the run store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoff_core::domain::{Run, RunStatus};
use handoff_core::ports::{RunQuery, RunStore, StoreError};

/// One state machine execution as persisted: the engine's serialised
/// `handoff_states::Execution` plus what the runtime indexes it by.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExecution {
    /// The execution name: the run id.
    pub name: String,
    /// The engine's own JSON text, without the definition and the history.
    pub state: String,
    /// History events as (id, JSON text). A save appends these to the
    /// events stored before (an id stored already is replaced: a retried
    /// save), so each save carries only the events since the last one; a
    /// load returns every event, in id order.
    pub history: Vec<(u64, String)>,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    /// When a timer (Wait, retry back-off, task timeout) is next due.
    pub next_wake: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait ExecutionLog: Send + Sync {
    /// Creates the execution unless one with this name exists (`false` then):
    /// starting a run twice starts one execution.
    async fn create_execution(&self, execution: &StoredExecution) -> Result<bool, StoreError>;
    /// Replaces the state after a transition and appends its new history
    /// events, together with the task tokens it is now waiting on (so a
    /// callback finds its execution).
    async fn save_execution(
        &self,
        execution: &StoredExecution,
        open_tokens: &[String],
    ) -> Result<(), StoreError>;
    async fn load_execution(&self, name: &str) -> Result<Option<StoredExecution>, StoreError>;
    /// Only the status, for a caller that needs no state or history.
    async fn execution_status(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Every execution still `RUNNING`: what a restarted process resumes.
    async fn running_executions(&self) -> Result<Vec<StoredExecution>, StoreError>;
    async fn execution_for_token(&self, token: &str) -> Result<Option<String>, StoreError>;
}

/// A received message; `receipt` deletes it (SQS's receipt handle).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    pub id: String,
    pub receipt: String,
    pub body: String,
    pub receive_count: u32,
}

/// SQS semantics: a received message is invisible for the visibility
/// timeout and comes back unless deleted; past `max_receive_count` receives
/// it moves to the dead-letter queue instead.
#[async_trait]
pub trait IntakeQueue: Send + Sync {
    async fn send(&self, body: &str, now: DateTime<Utc>) -> Result<String, StoreError>;
    async fn receive(
        &self,
        max: usize,
        visibility_seconds: u64,
        max_receive_count: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<ReceivedMessage>, StoreError>;
    async fn delete(&self, receipt: &str) -> Result<(), StoreError>;
    async fn dead_letters(&self) -> Result<Vec<ReceivedMessage>, StoreError>;
    /// Messages waiting or in flight (not dead-lettered).
    async fn depth(&self) -> Result<usize, StoreError>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `notification` or `action`.
    pub kind: String,
    pub run_id: String,
    /// Reviewer, e-mail recipient or URL.
    pub target: String,
    pub subject: String,
    pub body: String,
    /// The reviewer's approval link, for notifications.
    pub link: Option<String>,
    /// Whether it was delivered over HTTP (`false`: recorded only).
    pub delivered: bool,
}

#[async_trait]
pub trait Outbox: Send + Sync {
    async fn record(&self, entry: &OutboxEntry) -> Result<i64, StoreError>;
    /// Newest first.
    async fn entries(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError>;
}

/// Every run the store lists, newest first, up to `max`.
pub async fn all_runs(
    store: &dyn RunStore,
    status: Option<RunStatus>,
    max: usize,
) -> Result<Vec<Run>, String> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_runs(&RunQuery {
                status,
                limit: 200.min(max - out.len()).max(1),
                cursor,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        out.extend(page.items);
        if out.len() >= max || page.next.is_none() {
            break;
        }
        cursor = page.next;
    }
    Ok(out)
}
