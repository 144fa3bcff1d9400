use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::*;
use crate::ports::ModelUsage;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the item in another state.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend failed; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The outcome of creating a run for a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New,
    /// The delivery was seen before; this is the run it started.
    Duplicate(RunId),
}

/// Filters for listing runs, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub workflow: Option<String>,
    pub status: Option<RunStatus>,
    pub sender: Option<String>,
    pub limit: usize,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Named slots of a run's stage data (claim check): each stage writes its
/// own and reads the earlier ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    Context,
    Ai,
    Decision,
    Action(String),
    /// One context lookup's result, kept so a retried stage does not call
    /// the other system again.
    Lookup(String),
    /// Where a workflow's latest accuracy review was kept before the review
    /// log ([`ReviewLog`]); only read, for stores written before it.
    Review(String),
    /// The run's blind audit, when it was sampled for one.
    Audit,
    /// How one of the run's documents read (by content hash), kept so a
    /// retried stage does not read it again.
    Document(String),
}

impl Slot {
    pub fn key(&self) -> String {
        match self {
            Slot::Context => "context".into(),
            Slot::Ai => "ai".into(),
            Slot::Decision => "decision".into(),
            Slot::Action(name) => format!("action#{name}"),
            Slot::Lookup(name) => format!("lookup#{name}"),
            Slot::Review(workflow) => format!("review#{workflow}"),
            Slot::Audit => "audit".into(),
            Slot::Document(sha256) => format!("document#{sha256}"),
        }
    }
}

#[async_trait]
pub trait Runs: Send + Sync {
    /// Stores the dedupe key, the run, its event and its first audit entry
    /// together, or nothing: a duplicate delivery returns the run it started
    /// first. One write, so intake pays one round trip to the store.
    async fn create_run(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Created, StoreError>;
    /// Claims `workflow`'s business key `key` (as [`business_key`] builds
    /// it) for `run`, in the record `create_run` claims it in, forever.
    /// Returns the run holding it: `run` when it was free or `run` already
    /// held it (a retried stage claims again), else the run that was first.
    async fn claim_business_key(
        &self,
        workflow: &str,
        key: &str,
        run: &RunId,
    ) -> Result<RunId, StoreError>;
    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError>;
    async fn get_event(&self, id: &RunId) -> Result<Option<CanonicalEvent>, StoreError>;
    /// Moves a run to `to` only if its status is one of `from`
    /// (`StoreError::Conflict` otherwise). Never read-modify-write.
    async fn transition(
        &self,
        id: &RunId,
        from: &[RunStatus],
        to: RunStatus,
        stage: Stage,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Sets the given summary fields in one write, leaving the others as
    /// stored; `NotFound` when the run is not there.
    async fn update_summary(&self, id: &RunId, update: &SummaryUpdate) -> Result<(), StoreError>;
    async fn list_runs(&self, query: &RunQuery) -> Result<Page<Run>, StoreError>;
}

#[async_trait]
pub trait RunData: Send + Sync {
    async fn put_slot(
        &self,
        id: &RunId,
        slot: &Slot,
        value: &serde_json::Value,
    ) -> Result<(), StoreError>;
    async fn get_slot(
        &self,
        id: &RunId,
        slot: &Slot,
    ) -> Result<Option<serde_json::Value>, StoreError>;
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Oldest first.
    async fn trail(&self, id: &RunId) -> Result<Vec<AuditEvent>, StoreError>;
}

#[async_trait]
pub trait Approvals: Send + Sync {
    async fn put_approval(&self, approval: &Approval) -> Result<(), StoreError>;
    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError>;
    /// Adds a vote only while the approval is pending and this reviewer has
    /// not voted (`Conflict` otherwise); returns the approval after the vote.
    async fn record_vote(&self, id: &ApprovalId, vote: &Vote) -> Result<Approval, StoreError>;
    /// Pending → `to`, once (`Conflict` if it was no longer pending).
    /// Closed as approved or rejected, the approval owes the waiting task
    /// its decision until [`Approvals::mark_delivered`].
    async fn close_approval(
        &self,
        id: &ApprovalId,
        to: ApprovalStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The run's approvals, newest first.
    async fn approvals_of_run(&self, run: &RunId) -> Result<Vec<Approval>, StoreError>;
    /// Pending approvals across workflows, oldest first.
    async fn pending_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError>;
    /// Closed approvals whose decision the waiting task has not taken
    /// yet, oldest decision first.
    async fn undelivered_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError>;
    /// The waiting task has the decision, or can no longer take one.
    /// Answers whether a delivery was still owed.
    async fn mark_delivered(&self, id: &ApprovalId) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait FeedbackLog: Send + Sync {
    /// One per run and reviewer: a put replaces that reviewer's earlier
    /// feedback on the run.
    async fn put_feedback(&self, feedback: &Feedback) -> Result<(), StoreError>;
    /// Newest first.
    async fn list_feedback(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<Feedback>, StoreError>;
}

/// A billed tier's validated answer, kept so an identical prompt does not
/// pay twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The answer object, as validated against the task's schema.
    pub value: serde_json::Value,
    /// The provider's model id, as it reported it.
    pub model: String,
    /// What the answer cost when it was paid for.
    pub usage: ModelUsage,
}

#[async_trait]
pub trait ModelCache: Send + Sync {
    /// The answer kept under `key`, unless it had expired by `now`.
    async fn get_cached(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CachedAnswer>, StoreError>;
    /// Keeps `answer` under `key` until `expires_at`, replacing any other.
    async fn put_cached(
        &self,
        key: &str,
        answer: &CachedAnswer,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

/// What a stored model was trained on and when; small, so a reader can ask
/// for the newest one often and fetch the body only when it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub workflow: String,
    /// The classify task the model answers.
    pub task: String,
    /// Grows with every model stored for the task; the newest wins.
    pub version: u64,
    pub trained_at: DateTime<Utc>,
    /// Digest of the spec's own examples of the task: a model trained
    /// before the labels or examples changed is not used.
    pub spec_digest: String,
    /// Digest of everything it was trained on (the spec's examples, the
    /// corrections, the model kind): the trainer skips an unchanged set.
    pub training_digest: String,
    pub examples: usize,
    /// Of `examples`, how many were reviewers' corrections.
    pub corrections: usize,
    /// The model kind, e.g. `embedded/ngrams+all-MiniLM-L6-v2`.
    pub model: String,
}

/// Trained models, versioned: written by the trainer off the request path,
/// read by the AI step once per container and whenever a newer one appears.
#[async_trait]
pub trait ModelArtifacts: Send + Sync {
    /// Stores `body` as `meta`'s version. A version at or below the newest
    /// stored one is refused with `Conflict`: two trainers racing leave the
    /// newer model.
    async fn put_model(&self, meta: &ModelMeta, body: &[u8]) -> Result<(), StoreError>;
    /// The newest model of a task, without its body.
    async fn latest_model(
        &self,
        workflow: &str,
        task: &str,
    ) -> Result<Option<ModelMeta>, StoreError>;
    /// The body stored with `meta`; `None` once a newer version replaced it.
    async fn model_body(&self, meta: &ModelMeta) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Tokens each workflow's LLM calls spent per UTC day, for its daily budget.
#[async_trait]
pub trait TokenLedger: Send + Sync {
    /// Adds `tokens` to the day's total in one atomic step (concurrent
    /// spends all count) and returns the new total.
    async fn spend(&self, workflow: &str, day: NaiveDate, tokens: u64) -> Result<u64, StoreError>;
    /// The day's total so far; 0 for a day with no spend.
    async fn spent(&self, workflow: &str, day: NaiveDate) -> Result<u64, StoreError>;
}

/// Reviewer tokens withdrawn before they expired, by token id.
#[async_trait]
pub trait RevokedTokens: Send + Sync {
    /// Withdraws the token `id`; the entry may be forgotten after `until`,
    /// the token's own expiry.
    async fn revoke_token(&self, id: &str, until: DateTime<Utc>) -> Result<(), StoreError>;
    async fn token_revoked(&self, id: &str) -> Result<bool, StoreError>;
}

/// Accuracy reviews: per workflow, a history of its own, not a run's.
#[async_trait]
pub trait ReviewLog: Send + Sync {
    /// Keeps `review` (JSON) as `workflow`'s review made at `at`; a second
    /// review at the same instant replaces the first.
    async fn put_review(
        &self,
        workflow: &str,
        at: DateTime<Utc>,
        review: &serde_json::Value,
    ) -> Result<(), StoreError>;
    /// Newest first, at most `limit`.
    async fn reviews(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError>;
}

/// The whole run store: DynamoDB in AWS, SQLite locally, memory in tests.
pub trait RunStore:
    Runs
    + RunData
    + AuditLog
    + Approvals
    + FeedbackLog
    + ModelCache
    + ModelArtifacts
    + TokenLedger
    + RevokedTokens
    + ReviewLog
{
}

impl<
        T: Runs
            + RunData
            + AuditLog
            + Approvals
            + FeedbackLog
            + ModelCache
            + ModelArtifacts
            + TokenLedger
            + RevokedTokens
            + ReviewLog,
    > RunStore for T
{
}
