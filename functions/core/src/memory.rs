//! In-memory ports with the same conditional semantics as the real stores,
//! for tests and for driving handlers from `events/` samples.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::*;
use crate::ports::*;

#[derive(Default)]
struct Tables {
    runs: BTreeMap<RunId, Run>,
    events: BTreeMap<RunId, CanonicalEvent>,
    /// (workflow, claim key) → the run that claimed it.
    dedupe: BTreeMap<(String, String), RunId>,
    slots: BTreeMap<(RunId, String), serde_json::Value>,
    audit: Vec<AuditEvent>,
    approvals: BTreeMap<ApprovalId, Approval>,
    undelivered: std::collections::BTreeSet<ApprovalId>,
    feedback: Vec<Feedback>,
    revoked: BTreeMap<String, DateTime<Utc>>,
    cache: BTreeMap<String, (CachedAnswer, DateTime<Utc>)>,
    ledger: BTreeMap<(String, NaiveDate), u64>,
    /// (workflow, task) → the newest model.
    models: BTreeMap<(String, String), (ModelMeta, Vec<u8>)>,
    reviews: BTreeMap<(String, DateTime<Utc>), serde_json::Value>,
}

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    /// How many of the next `close_approval` calls fail as if the store were down.
    pub failing_closes: Mutex<usize>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts of stored items, for tests that assert nothing was written.
    pub fn counts(&self) -> (usize, usize, usize) {
        let t = self.tables.lock().unwrap();
        // A run claims several dedupe records; count the deliveries.
        let remembered: std::collections::BTreeSet<&RunId> = t.dedupe.values().collect();
        (t.runs.len(), remembered.len(), t.audit.len())
    }
}

/// The stored item `id` names, or `NotFound`.
fn found<'t, K: Ord + std::fmt::Display, V>(
    table: &'t mut BTreeMap<K, V>,
    id: &K,
) -> Result<&'t mut V, StoreError> {
    table
        .get_mut(id)
        .ok_or_else(|| StoreError::NotFound(id.to_string()))
}

/// The approval `id` names while it is still pending: votes and closes
/// are refused on a closed one.
fn pending<'t>(t: &'t mut Tables, id: &ApprovalId) -> Result<&'t mut Approval, StoreError> {
    let a = found(&mut t.approvals, id)?;
    if a.status != ApprovalStatus::Pending {
        return Err(StoreError::Conflict(format!("approval is {:?}", a.status)));
    }
    Ok(a)
}

/// Copies of the stored items `keep` accepts, in key order.
fn select<K, V: Clone>(table: &BTreeMap<K, V>, keep: impl Fn(&V) -> bool) -> Vec<V> {
    table.values().filter(|v| keep(v)).cloned().collect()
}

fn page<T: Clone>(items: Vec<T>, limit: usize, cursor: Option<&str>) -> Page<T> {
    let start: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit = if limit == 0 { 50 } else { limit };
    let end = (start + limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Page {
        items: items.get(start..end).map(<[T]>::to_vec).unwrap_or_default(),
        next,
    }
}

/// A page of `approvals` ordered by `key`, then id.
fn approvals_by<'a>(
    approvals: impl Iterator<Item = &'a Approval>,
    key: impl Fn(&Approval) -> Option<DateTime<Utc>>,
    limit: usize,
    cursor: Option<String>,
) -> Page<Approval> {
    let mut list: Vec<Approval> = approvals.cloned().collect();
    list.sort_by(|a, b| key(a).cmp(&key(b)).then(a.id.cmp(&b.id)));
    page(list, limit, cursor.as_deref())
}

#[async_trait]
impl Runs for MemoryStore {
    async fn create_run(
        &self,
        run: &Run,
        event: &CanonicalEvent,
        dedupe: &DedupeKey,
        received: &AuditEvent,
    ) -> Result<Created, StoreError> {
        let mut t = self.tables.lock().unwrap();
        // Expiry is the real stores' business (TTL); tests run on a manual
        // clock, so here a claim is kept for the store's lifetime.
        let claims = dedupe.claims();
        for claim in &claims {
            let key = (dedupe.workflow.clone(), claim.key.clone());
            if let Some(existing) = t.dedupe.get(&key) {
                return Ok(Created::Duplicate(existing.clone()));
            }
        }
        for claim in claims {
            t.dedupe
                .insert((dedupe.workflow.clone(), claim.key), run.id.clone());
        }
        t.runs.insert(run.id.clone(), run.clone());
        t.events.insert(run.id.clone(), event.clone());
        t.audit.push(received.clone());
        Ok(Created::New)
    }

    async fn claim_business_key(
        &self,
        workflow: &str,
        key: &str,
        run: &RunId,
    ) -> Result<RunId, StoreError> {
        let claim = DedupeClaim::business_key(key);
        let mut t = self.tables.lock().unwrap();
        Ok(t.dedupe
            .entry((workflow.to_string(), claim.key))
            .or_insert_with(|| run.clone())
            .clone())
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        Ok(self.tables.lock().unwrap().runs.get(id).cloned())
    }

    async fn get_event(&self, id: &RunId) -> Result<Option<CanonicalEvent>, StoreError> {
        Ok(self.tables.lock().unwrap().events.get(id).cloned())
    }

    async fn transition(
        &self,
        id: &RunId,
        from: &[RunStatus],
        to: RunStatus,
        stage: Stage,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        let run = found(&mut t.runs, id)?;
        if !from.contains(&run.status) {
            return Err(StoreError::Conflict(format!(
                "{id} is {}, not {from:?}",
                run.status
            )));
        }
        run.status = to;
        run.stage = stage;
        run.updated_at = at;
        Ok(())
    }

    async fn update_summary(&self, id: &RunId, update: &SummaryUpdate) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        update.apply(&mut found(&mut t.runs, id)?.summary);
        Ok(())
    }

    async fn list_runs(&self, q: &RunQuery) -> Result<Page<Run>, StoreError> {
        let t = self.tables.lock().unwrap();
        let mut runs = select(&t.runs, |r| {
            q.workflow.as_deref().is_none_or(|w| r.workflow == w)
                && q.status.is_none_or(|s| r.status == s)
                && (q.sender.is_none() || r.sender == q.sender)
        });
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(page(runs, q.limit, q.cursor.as_deref()))
    }
}

#[async_trait]
impl RunData for MemoryStore {
    async fn put_slot(
        &self,
        id: &RunId,
        slot: &Slot,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        t.slots.insert((id.clone(), slot.key()), value.clone());
        Ok(())
    }

    async fn get_slot(
        &self,
        id: &RunId,
        slot: &Slot,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self
            .tables
            .lock()
            .unwrap()
            .slots
            .get(&(id.clone(), slot.key()))
            .cloned())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.tables.lock().unwrap().audit.push(event.clone());
        Ok(())
    }

    async fn trail(&self, id: &RunId) -> Result<Vec<AuditEvent>, StoreError> {
        let t = self.tables.lock().unwrap();
        Ok(t.audit
            .iter()
            .filter(|e| &e.run_id == id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl Approvals for MemoryStore {
    async fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        t.approvals.insert(approval.id.clone(), approval.clone());
        Ok(())
    }

    async fn get_approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        Ok(self.tables.lock().unwrap().approvals.get(id).cloned())
    }

    async fn record_vote(&self, id: &ApprovalId, vote: &Vote) -> Result<Approval, StoreError> {
        let mut t = self.tables.lock().unwrap();
        let a = pending(&mut t, id)?;
        if a.vote_of(&vote.reviewer).is_some() {
            return Err(StoreError::Conflict(format!(
                "{} already voted",
                vote.reviewer
            )));
        }
        a.votes.push(vote.clone());
        Ok(a.clone())
    }

    async fn close_approval(
        &self,
        id: &ApprovalId,
        to: ApprovalStatus,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        {
            let mut failing = self.failing_closes.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(StoreError::Unavailable("scripted outage".into()));
            }
        }
        let mut t = self.tables.lock().unwrap();
        let a = pending(&mut t, id)?;
        a.status = to;
        a.decided_at = Some(at);
        if matches!(to, ApprovalStatus::Approved | ApprovalStatus::Rejected) {
            t.undelivered.insert(id.clone());
        }
        Ok(())
    }

    async fn approvals_of_run(&self, run: &RunId) -> Result<Vec<Approval>, StoreError> {
        let t = self.tables.lock().unwrap();
        let mut list = select(&t.approvals, |a| &a.run_id == run);
        list.sort_by_key(|a| std::cmp::Reverse(a.created_at));
        Ok(list)
    }

    async fn pending_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        let t = self.tables.lock().unwrap();
        let list = t
            .approvals
            .values()
            .filter(|a| a.status == ApprovalStatus::Pending);
        Ok(approvals_by(list, |a| Some(a.created_at), limit, cursor))
    }

    async fn undelivered_approvals(
        &self,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page<Approval>, StoreError> {
        let t = self.tables.lock().unwrap();
        let list = t.undelivered.iter().filter_map(|id| t.approvals.get(id));
        Ok(approvals_by(list, |a| a.decided_at, limit, cursor))
    }

    async fn mark_delivered(&self, id: &ApprovalId) -> Result<bool, StoreError> {
        Ok(self.tables.lock().unwrap().undelivered.remove(id))
    }
}

#[async_trait]
impl ReviewLog for MemoryStore {
    async fn put_review(
        &self,
        workflow: &str,
        at: DateTime<Utc>,
        review: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        t.reviews.insert((workflow.to_string(), at), review.clone());
        Ok(())
    }

    async fn reviews(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let t = self.tables.lock().unwrap();
        Ok(t.reviews
            .iter()
            .rev()
            .filter(|((w, _), _)| w == workflow)
            .take(limit)
            .map(|(_, review)| review.clone())
            .collect())
    }
}

#[async_trait]
impl RevokedTokens for MemoryStore {
    async fn revoke_token(&self, id: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.tables
            .lock()
            .unwrap()
            .revoked
            .insert(id.to_string(), until);
        Ok(())
    }

    async fn token_revoked(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.tables.lock().unwrap().revoked.contains_key(id))
    }
}

#[async_trait]
impl FeedbackLog for MemoryStore {
    async fn put_feedback(&self, feedback: &Feedback) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        t.feedback
            .retain(|f| !(f.run_id == feedback.run_id && f.reviewer == feedback.reviewer));
        t.feedback.push(feedback.clone());
        Ok(())
    }

    async fn list_feedback(
        &self,
        workflow: &str,
        limit: usize,
    ) -> Result<Vec<Feedback>, StoreError> {
        let t = self.tables.lock().unwrap();
        Ok(t.feedback
            .iter()
            .rev()
            .filter(|f| f.workflow == workflow)
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl ModelCache for MemoryStore {
    async fn get_cached(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<CachedAnswer>, StoreError> {
        let t = self.tables.lock().unwrap();
        Ok(t.cache
            .get(key)
            .filter(|(_, expires_at)| *expires_at > now)
            .map(|(answer, _)| answer.clone()))
    }

    async fn put_cached(
        &self,
        key: &str,
        answer: &CachedAnswer,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        t.cache
            .insert(key.to_string(), (answer.clone(), expires_at));
        Ok(())
    }
}

#[async_trait]
impl ModelArtifacts for MemoryStore {
    async fn put_model(&self, meta: &ModelMeta, body: &[u8]) -> Result<(), StoreError> {
        let mut t = self.tables.lock().unwrap();
        let key = (meta.workflow.clone(), meta.task.clone());
        if let Some((newest, _)) = t.models.get(&key) {
            if newest.version >= meta.version {
                return Err(StoreError::Conflict(format!(
                    "model version {} is not newer than {}",
                    meta.version, newest.version
                )));
            }
        }
        t.models.insert(key, (meta.clone(), body.to_vec()));
        Ok(())
    }

    async fn latest_model(
        &self,
        workflow: &str,
        task: &str,
    ) -> Result<Option<ModelMeta>, StoreError> {
        let t = self.tables.lock().unwrap();
        Ok(t.models
            .get(&(workflow.to_string(), task.to_string()))
            .map(|(meta, _)| meta.clone()))
    }

    async fn model_body(&self, meta: &ModelMeta) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.tables.lock().unwrap();
        Ok(t.models
            .get(&(meta.workflow.clone(), meta.task.clone()))
            .filter(|(newest, _)| newest.version == meta.version)
            .map(|(_, body)| body.clone()))
    }
}

#[async_trait]
impl TokenLedger for MemoryStore {
    async fn spend(&self, workflow: &str, day: NaiveDate, tokens: u64) -> Result<u64, StoreError> {
        let mut t = self.tables.lock().unwrap();
        let total = t.ledger.entry((workflow.to_string(), day)).or_default();
        *total += tokens;
        Ok(*total)
    }

    async fn spent(&self, workflow: &str, day: NaiveDate) -> Result<u64, StoreError> {
        let t = self.tables.lock().unwrap();
        Ok(t.ledger
            .get(&(workflow.to_string(), day))
            .copied()
            .unwrap_or(0))
    }
}

/// Keeps every message enqueued, in order.
#[derive(Default)]
pub struct MemoryQueue {
    pub messages: Mutex<Vec<RunMessage>>,
}

#[async_trait]
impl RunQueue for MemoryQueue {
    async fn enqueue(&self, message: &RunMessage) -> Result<(), QueueError> {
        self.messages.lock().unwrap().push(message.clone());
        Ok(())
    }
}

/// Keeps documents by their store key.
#[derive(Default)]
pub struct MemoryDocuments {
    pub stored: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[async_trait]
impl DocumentStore for MemoryDocuments {
    async fn put(&self, workflow: &str, doc: &DocumentRef, bytes: &[u8]) -> Result<(), StoreError> {
        let key = doc.key(workflow);
        self.stored.lock().unwrap().insert(key, bytes.to_vec());
        Ok(())
    }

    async fn get(&self, workflow: &str, doc: &DocumentRef) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.stored.lock().unwrap().get(&doc.key(workflow)).cloned())
    }
}

/// Keeps every notification sent, in order.
#[derive(Default)]
pub struct RecordingNotifier {
    pub sent: Mutex<Vec<Notification>>,
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        self.sent.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

/// Records starts (execution name, input) and task answers; a token
/// answered once is closed.
#[derive(Default)]
pub struct MemoryExecutions {
    pub started: Mutex<Vec<(String, serde_json::Value)>>,
    pub answers: Mutex<Vec<(String, Result<serde_json::Value, String>)>>,
    /// How many of the next task answers fail as if the service were down.
    pub unavailable: Mutex<usize>,
}

#[async_trait]
impl Executions for MemoryExecutions {
    async fn start(
        &self,
        name: &str,
        input: &serde_json::Value,
    ) -> Result<Started, ExecutionError> {
        let mut started = self.started.lock().unwrap();
        if started.iter().any(|(started, _)| started == name) {
            return Ok(Started::AlreadyStarted);
        }
        started.push((name.to_string(), input.clone()));
        Ok(Started::New)
    }

    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), ExecutionError> {
        self.answer(token.expose(), Ok(output.clone()))
    }
}

impl MemoryExecutions {
    fn answer(
        &self,
        token: &str,
        result: Result<serde_json::Value, String>,
    ) -> Result<(), ExecutionError> {
        let mut unavailable = self.unavailable.lock().unwrap();
        if *unavailable > 0 {
            *unavailable -= 1;
            return Err(ExecutionError::Unavailable("scripted outage".into()));
        }
        let mut answers = self.answers.lock().unwrap();
        if answers.iter().any(|(t, _)| t == token) {
            return Err(ExecutionError::TaskClosed(format!(
                "token {token} already answered"
            )));
        }
        answers.push((token.to_string(), result));
        Ok(())
    }
}

#[derive(Default)]
pub struct StaticSecrets {
    pub values: Mutex<BTreeMap<String, Secret>>,
}

impl StaticSecrets {
    pub fn with(pairs: &[(&str, &str)]) -> Self {
        let s = Self::default();
        for (name, value) in pairs {
            s.values
                .lock()
                .unwrap()
                .insert((*name).to_string(), Secret::new(*value));
        }
        s
    }
}

#[async_trait]
impl Secrets for StaticSecrets {
    async fn get(&self, name: &str) -> Result<Secret, SecretError> {
        self.values
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| SecretError::NotFound(name.to_string()))
    }
}

#[derive(Default)]
pub struct RecordingSink {
    pub performed: Mutex<Vec<ActionRequest>>,
}

#[async_trait]
impl ActionSink for RecordingSink {
    async fn perform(
        &self,
        request: &ActionRequest,
        _deadline: Option<std::time::Instant>,
    ) -> Result<ActionDelivery, ActionError> {
        self.performed.lock().unwrap().push(request.clone());
        Ok(ActionDelivery {
            status_code: Some(200),
            attempts: 1,
            response_excerpt: None,
        })
    }
}

/// A clock tests move by hand.
pub struct ManualClock(pub Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(rfc3339: &str) -> Self {
        Self(Mutex::new(
            DateTime::parse_from_rfc3339(rfc3339)
                .expect("RFC 3339")
                .with_timezone(&Utc),
        ))
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Keeps each metric document as the EMF line a function would print.
#[derive(Default)]
pub struct RecordingMetrics {
    pub lines: Mutex<Vec<String>>,
}

impl RecordingMetrics {
    /// The documents emitted so far, parsed back from their lines.
    pub fn documents(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).expect("an EMF line is JSON"))
            .collect()
    }
}

impl Metrics for RecordingMetrics {
    fn emit(&self, doc: crate::observe::emf::MetricDoc) {
        self.lines.lock().unwrap().push(doc.to_line(0));
    }
}
