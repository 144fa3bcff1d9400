//! The run store contract, run against the in-memory reference and against
//! SQLite (in memory and on a file, where reads go through other
//! connections than writes): the same behaviour from both proves the same
//! semantics (the answer cache and token ledger included). Then what only
//! SQLite has: dedupe expiry, durability across a reopen, executions, the
//! intake queue and the outbox.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_local::sqlite::SqliteStore;
use handoff_local::store::*;
use serde_json::json;

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + secs, 0).unwrap()
}

fn run(id: &str, workflow: &str, sender: Option<&str>, at: DateTime<Utc>) -> Run {
    Run {
        id: RunId(id.to_string()),
        workflow: workflow.to_string(),
        status: RunStatus::Received,
        stage: Stage::Ingest,
        delivery_id: format!("d-{id}"),
        sender: sender.map(str::to_string),
        created_at: at,
        updated_at: at,
        summary: RunSummary::default(),
    }
}

fn event(workflow: &str, delivery: &str) -> CanonicalEvent {
    CanonicalEvent {
        workflow: workflow.to_string(),
        delivery_id: delivery.to_string(),
        received_at: t(0),
        fields: [("text".to_string(), json!("refund please"))].into(),
        payload: json!({"id": delivery, "nested": {"n": 1}}),
    }
}

fn dedupe(workflow: &str, delivery: &str, expires_at: DateTime<Utc>) -> DedupeKey {
    DedupeKey {
        workflow: workflow.to_string(),
        delivery_id: delivery.to_string(),
        expires_at,
        body_hash: None,
        business_key: None,
    }
}

fn fresh(workflow: &str, delivery: &str) -> DedupeKey {
    dedupe(workflow, delivery, Utc::now() + Duration::days(3))
}

/// `create_run` of `r` for the delivery `delivery` of its workflow, kept
/// under `key`.
async fn create<S: RunStore + ?Sized>(
    store: &S,
    r: &Run,
    delivery: &str,
    key: &DedupeKey,
) -> Result<Created, StoreError> {
    store
        .create_run(
            r,
            &event(&r.workflow, delivery),
            key,
            &AuditEvent::received(r, 0),
        )
        .await
}

async fn put_run<S: RunStore>(store: &S, r: &Run) {
    let key = fresh(&r.workflow, &r.delivery_id);
    let created = create(store, r, &r.delivery_id, &key).await.unwrap();
    assert_eq!(created, Created::New);
}

fn approval(id: &str, run: &str, created: DateTime<Utc>) -> Approval {
    Approval {
        id: ApprovalId(id.to_string()),
        run_id: RunId(run.to_string()),
        workflow: "refunds".into(),
        task_token: format!("token-{id}").into(),
        reviewers: vec!["ana".into(), "bo".into()],
        required: 2,
        status: ApprovalStatus::Pending,
        escalation: false,
        created_at: created,
        expires_at: created + Duration::hours(24),
        votes: Vec::new(),
        decided_at: None,
    }
}

fn vote(reviewer: &str, verdict: Verdict) -> Vote {
    Vote {
        reviewer: reviewer.to_string(),
        verdict,
        reason: "looks right".into(),
        edits: Some(json!({"draft": "ok"})),
        at: t(100),
    }
}

/// A database file removed (with its WAL and shared-memory files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("handoff-{name}-{}-{n}.db", std::process::id()));
        let db = Self(path);
        db.remove();
        db
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

// ---- the contract: every RunStore behaves like this ----

async fn duplicate_delivery_starts_one_run<S: RunStore + 'static>(store: Arc<S>) {
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let r = run(&format!("run-{i}"), "refunds", None, t(i));
                create(store.as_ref(), &r, "evt-1", &fresh("refunds", "evt-1"))
                    .await
                    .map(|c| (r.id, c))
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap().unwrap());
    }
    let winners: Vec<&RunId> = outcomes
        .iter()
        .filter(|(_, c)| *c == Created::New)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = winners[0].clone();
    for (id, created) in &outcomes {
        if *id != winner {
            assert_eq!(*created, Created::Duplicate(winner.clone()));
            assert_eq!(store.get_run(id).await.unwrap(), None, "loser {id} stored");
            assert_eq!(store.trail(id).await.unwrap(), [], "loser {id} audited");
        }
    }
    // The first audit entry is written with the run, once.
    let trail = store.trail(&winner).await.unwrap();
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["run.received"]);
    let stored = store.get_run(&winner).await.unwrap().unwrap();
    assert_eq!(stored.id, winner);
    assert_eq!(
        store.get_event(&winner).await.unwrap(),
        Some(event("refunds", "evt-1"))
    );
    // Another workflow with the same delivery id is another delivery.
    let other = run("run-other", "billing", None, t(50));
    let created = create(store.as_ref(), &other, "evt-1", &fresh("billing", "evt-1"))
        .await
        .unwrap();
    assert_eq!(created, Created::New);
}

async fn run_round_trips_exactly<S: RunStore>(store: Arc<S>) {
    let mut r = run("run-exact", "refunds", Some("a@example.com"), Utc::now());
    r.summary.label = Some("refund".into());
    put_run(&*store, &r).await;
    assert_eq!(store.get_run(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(store.get_run(&RunId("nope".into())).await.unwrap(), None);
    assert_eq!(store.get_event(&RunId("nope".into())).await.unwrap(), None);

    let summary = RunSummary {
        label: Some("refund".into()),
        confidence: Some(0.93),
        route: Some("auto".into()),
        reviewed: true,
        error: None,
    };
    store.set_summary(&r.id, &summary).await.unwrap();
    assert_eq!(
        store.get_run(&r.id).await.unwrap().unwrap().summary,
        summary
    );
    let missing = store.set_summary(&RunId("nope".into()), &summary).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

async fn stale_transition_is_refused<S: RunStore>(store: Arc<S>) {
    let r = run("run-t", "refunds", None, t(0));
    put_run(&*store, &r).await;
    store
        .transition(
            &r.id,
            &[RunStatus::Received],
            RunStatus::Running,
            Stage::Start,
            t(5),
        )
        .await
        .unwrap();
    let stale = store
        .transition(
            &r.id,
            &[RunStatus::Received],
            RunStatus::Running,
            Stage::Start,
            t(6),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let after = store.get_run(&r.id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.stage, after.updated_at),
        (RunStatus::Running, Stage::Start, t(5))
    );
    // Any of several statuses may be the starting point.
    store
        .transition(
            &r.id,
            &[RunStatus::Received, RunStatus::Running],
            RunStatus::AwaitingApproval,
            Stage::Approval,
            t(7),
        )
        .await
        .unwrap();
    let unknown = store
        .transition(
            &RunId("run-missing".into()),
            &[RunStatus::Received],
            RunStatus::Running,
            Stage::Start,
            t(8),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn concurrent_transitions_one_wins<S: RunStore + 'static>(store: Arc<S>) {
    let r = run("run-race", "refunds", None, t(0));
    put_run(&*store, &r).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let id = r.id.clone();
            tokio::spawn(async move {
                store
                    .transition(
                        &id,
                        &[RunStatus::Received],
                        RunStatus::Running,
                        Stage::Start,
                        t(i),
                    )
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 1);
}

async fn list_runs_pages_newest_first<S: RunStore>(store: Arc<S>) {
    let mut all = Vec::new();
    for i in 0..7 {
        let workflow = if i % 2 == 0 { "refunds" } else { "billing" };
        let sender = (i % 3 == 0).then_some("vip@example.com");
        let r = run(&format!("run-{i}"), workflow, sender, t(i));
        put_run(&*store, &r).await;
        all.push(r);
    }
    // Two runs at the same instant still page without loss or repeat.
    let twin = run("run-twin", "refunds", None, t(3));
    put_run(&*store, &twin).await;
    store
        .transition(
            &all[4].id,
            &[RunStatus::Received],
            RunStatus::Failed,
            Stage::Act,
            t(20),
        )
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_runs(&RunQuery {
                limit: 3,
                cursor: cursor.clone(),
                ..RunQuery::default()
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|r| r.id.0.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["run-6", "run-5", "run-4", "run-twin", "run-3", "run-2", "run-1", "run-0"]
    );

    let ids = |page: Page<Run>| page.items.into_iter().map(|r| r.id.0).collect::<Vec<_>>();
    let refunds = store
        .list_runs(&RunQuery {
            workflow: Some("refunds".into()),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(refunds.next, None);
    assert_eq!(
        ids(refunds),
        ["run-6", "run-4", "run-twin", "run-2", "run-0"]
    );
    let failed = store
        .list_runs(&RunQuery {
            status: Some(RunStatus::Failed),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(failed), ["run-4"]);
    let vip = store
        .list_runs(&RunQuery {
            workflow: Some("billing".into()),
            sender: Some("vip@example.com".into()),
            ..RunQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(vip), ["run-3"]);
}

async fn double_vote_is_refused<S: RunStore>(store: Arc<S>) {
    let a = approval("ap-1", "run-1", t(0));
    store.put_approval(&a).await.unwrap();
    assert_eq!(store.get_approval(&a.id).await.unwrap(), Some(a.clone()));

    let after = store
        .record_vote(&a.id, &vote("ana", Verdict::Approve))
        .await
        .unwrap();
    assert_eq!(after.votes, vec![vote("ana", Verdict::Approve)]);
    let again = store
        .record_vote(&a.id, &vote("ana", Verdict::Reject))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let after = store
        .record_vote(&a.id, &vote("bo", Verdict::Approve))
        .await
        .unwrap();
    assert_eq!(after.votes.len(), 2);
    assert_eq!(after.tally(), Tally::Approved);
    assert_eq!(store.get_approval(&a.id).await.unwrap(), Some(after));

    let unknown = store
        .record_vote(&ApprovalId("nope".into()), &vote("ana", Verdict::Approve))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn approval_closes_once<S: RunStore>(store: Arc<S>) {
    let a = approval("ap-2", "run-1", t(0));
    store.put_approval(&a).await.unwrap();
    store
        .close_approval(&a.id, ApprovalStatus::Rejected, t(60))
        .await
        .unwrap();
    let again = store
        .close_approval(&a.id, ApprovalStatus::Approved, t(61))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let late = store
        .record_vote(&a.id, &vote("ana", Verdict::Approve))
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    let closed = store.get_approval(&a.id).await.unwrap().unwrap();
    assert_eq!(closed.status, ApprovalStatus::Rejected);
    assert_eq!(closed.decided_at, Some(t(60)));
    let unknown = store
        .close_approval(&ApprovalId("nope".into()), ApprovalStatus::Expired, t(60))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
}

async fn pending_approvals_page_oldest_first<S: RunStore>(store: Arc<S>) {
    for i in 0..5 {
        store
            .put_approval(&approval(&format!("ap-{i}"), "run-1", t(i)))
            .await
            .unwrap();
    }
    store
        .put_approval(&approval("ap-x", "run-2", t(2)))
        .await
        .unwrap();
    store
        .close_approval(&ApprovalId("ap-1".into()), ApprovalStatus::Approved, t(9))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.pending_approvals(2, cursor.take()).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|a| a.id.0.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["ap-0", "ap-2", "ap-x", "ap-3", "ap-4"]);
    assert_eq!(pages, 3);

    let of_run: Vec<String> = store
        .approvals_of_run(&RunId("run-1".into()))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id.0)
        .collect();
    assert_eq!(of_run, ["ap-4", "ap-3", "ap-2", "ap-1", "ap-0"]);
}

async fn slots_audit_and_feedback<S: RunStore>(store: Arc<S>) {
    let id = RunId("run-s".into());
    assert_eq!(store.get_slot(&id, &Slot::Ai).await.unwrap(), None);
    store
        .put_slot(&id, &Slot::Ai, &json!({"label": "a"}))
        .await
        .unwrap();
    store
        .put_slot(&id, &Slot::Ai, &json!({"label": "b"}))
        .await
        .unwrap();
    let action = Slot::Action("refund".into());
    store.put_slot(&id, &action, &json!([1, 2])).await.unwrap();
    assert_eq!(
        store.get_slot(&id, &Slot::Ai).await.unwrap(),
        Some(json!({"label": "b"}))
    );
    assert_eq!(
        store.get_slot(&id, &action).await.unwrap(),
        Some(json!([1, 2]))
    );

    let e1 = AuditEvent::new(&id, t(1), Stage::Ingest, "run.received", json!({}));
    let e2 = AuditEvent::new(
        &id,
        t(2),
        Stage::Reason,
        "ai.classified",
        json!({"label": "b"}),
    );
    let e3 = AuditEvent::new(&id, t(2), Stage::Decide, "decision.made", json!(null));
    let elsewhere = AuditEvent::new(&RunId("other".into()), t(0), Stage::Ingest, "x", json!({}));
    for e in [&e1, &e2, &elsewhere, &e3] {
        store.append(e).await.unwrap();
    }
    assert_eq!(store.trail(&id).await.unwrap(), vec![e1, e2, e3]);

    for i in 0..4 {
        store
            .put_feedback(&Feedback {
                workflow: if i == 2 { "billing" } else { "refunds" }.into(),
                run_id: RunId(format!("run-{i}")),
                at: t(i),
                text: "text".into(),
                predicted_label: "a".into(),
                confidence: 0.5,
                final_label: "b".into(),
                edits: None,
                reviewer: "ana".into(),
                status: FeedbackStatus::Confirmed,
            })
            .await
            .unwrap();
    }
    let newest: Vec<String> = store
        .list_feedback("refunds", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.run_id.0)
        .collect();
    assert_eq!(newest, ["run-3", "run-1"]);
    assert!(store.list_feedback("refunds", 0).await.unwrap().is_empty());
}

async fn feedback_is_one_per_run_and_reviewer<S: RunStore>(store: Arc<S>) {
    let correction = |run: &str, reviewer: &str, label: &str, at: i64| Feedback {
        workflow: "refunds".into(),
        run_id: RunId(run.into()),
        at: t(at),
        text: "text".into(),
        predicted_label: "a".into(),
        confidence: 0.5,
        final_label: label.into(),
        edits: None,
        reviewer: reviewer.into(),
        status: FeedbackStatus::Confirmed,
    };
    store
        .put_feedback(&correction("run-1", "ana", "b", 1))
        .await
        .unwrap();
    store
        .put_feedback(&correction("run-1", "bo", "b", 2))
        .await
        .unwrap();
    store
        .put_feedback(&correction("run-2", "ana", "b", 3))
        .await
        .unwrap();
    store
        .put_feedback(&correction("run-1", "ana", "c", 4))
        .await
        .unwrap();
    let listed: Vec<(String, String, String)> = store
        .list_feedback("refunds", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.run_id.0, f.reviewer, f.final_label))
        .collect();
    let own = |r: &str, who: &str, l: &str| (r.to_string(), who.to_string(), l.to_string());
    assert_eq!(
        listed,
        [
            own("run-1", "ana", "c"),
            own("run-2", "ana", "b"),
            own("run-1", "bo", "b")
        ],
        "ana's second correction of run-1 replaced her first"
    );
}

async fn a_revoked_token_stays_revoked<S: RunStore>(store: Arc<S>) {
    assert!(!store.token_revoked("tok-1").await.unwrap());
    store.revoke_token("tok-1", t(60)).await.unwrap();
    store.revoke_token("tok-1", t(120)).await.unwrap();
    assert!(store.token_revoked("tok-1").await.unwrap());
    assert!(!store.token_revoked("tok-2").await.unwrap());
}

// ---- the answer cache and the token ledger ----

fn answer(label: &str) -> CachedAnswer {
    CachedAnswer {
        value: json!({ "label": label, "confidence": 0.9, "rationale": "as before" }),
        model: "gpt-test-1".into(),
        usage: ModelUsage {
            input_tokens: 100,
            output_tokens: 20,
            latency_ms: 300,
        },
    }
}

async fn a_cached_answer_is_returned_until_it_expires<S: RunStore>(store: Arc<S>) {
    let now = Utc::now();
    assert_eq!(store.get_cached("key-1", now).await.unwrap(), None);
    let until = now + Duration::hours(1);
    store
        .put_cached("key-1", &answer("refund"), until)
        .await
        .unwrap();
    let got = store.get_cached("key-1", now).await.unwrap();
    assert_eq!(got, Some(answer("refund")));
    assert_eq!(store.get_cached("key-2", now).await.unwrap(), None);
    // At its expiry it is gone, whether or not it still lingers.
    assert_eq!(store.get_cached("key-1", until).await.unwrap(), None);
    // Put again: the new answer, with the new expiry.
    let later = now + Duration::hours(2);
    store
        .put_cached("key-1", &answer("billing"), later)
        .await
        .unwrap();
    let got = store.get_cached("key-1", until).await.unwrap();
    assert_eq!(got, Some(answer("billing")));
}

async fn an_expired_cached_answer_is_not_returned<S: RunStore>(store: Arc<S>) {
    let now = Utc::now();
    store
        .put_cached("key-old", &answer("refund"), now - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(store.get_cached("key-old", now).await.unwrap(), None);
}

async fn concurrent_spends_sum_exactly<S: RunStore + 'static>(store: Arc<S>) {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    assert_eq!(store.spent("refunds", day).await.unwrap(), 0);
    let spends: Vec<_> = (1..=40u64)
        .map(|tokens| {
            let store = store.clone();
            tokio::spawn(async move { store.spend("refunds", day, tokens).await })
        })
        .collect();
    let mut totals = Vec::new();
    for spend in spends {
        totals.push(spend.await.unwrap().unwrap());
    }
    // Each add saw the ones before it and none was lost.
    let sum = (1..=40u64).sum::<u64>();
    totals.sort_unstable();
    totals.dedup();
    assert_eq!(totals.len(), 40, "every spend returned its own total");
    assert_eq!(totals.last(), Some(&sum));
    assert_eq!(store.spent("refunds", day).await.unwrap(), sum);
    // Per workflow and per day.
    assert_eq!(store.spent("leads", day).await.unwrap(), 0);
    let next = day.succ_opt().unwrap();
    assert_eq!(store.spent("refunds", next).await.unwrap(), 0);
    assert_eq!(store.spend("refunds", next, 7).await.unwrap(), 7);
}

async fn decided_approvals_are_owed_until_delivered<S: RunStore>(store: Arc<S>) {
    for i in 0..4 {
        store
            .put_approval(&approval(&format!("ap-{i}"), "run-1", t(i)))
            .await
            .unwrap();
    }
    let id = |i: usize| ApprovalId(format!("ap-{i}"));
    for (i, to, at) in [
        (2, ApprovalStatus::Rejected, t(7)),
        (0, ApprovalStatus::Approved, t(8)),
        (1, ApprovalStatus::Expired, t(9)),
    ] {
        store.close_approval(&id(i), to, at).await.unwrap();
    }

    let mut owed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.undelivered_approvals(1, cursor.take()).await.unwrap();
        owed.extend(page.items.iter().map(|a| (a.id.0.clone(), a.status)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Oldest decision first; an expired approval owes nothing.
    assert_eq!(
        owed,
        [
            ("ap-2".to_string(), ApprovalStatus::Rejected),
            ("ap-0".to_string(), ApprovalStatus::Approved)
        ]
    );

    assert!(store.mark_delivered(&id(2)).await.unwrap());
    assert!(!store.mark_delivered(&id(2)).await.unwrap(), "once");
    assert!(
        !store.mark_delivered(&id(3)).await.unwrap(),
        "pending owes nothing"
    );
    let page = store.undelivered_approvals(10, None).await.unwrap();
    let left: Vec<&str> = page.items.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(left, ["ap-0"]);
}

fn claiming(delivery: &str, body: &str, business: Option<&str>) -> DedupeKey {
    DedupeKey {
        body_hash: Some(format!("sha256:{body}")),
        business_key: business.map(|k| format!("sha256:{k}")),
        ..fresh("invoices", delivery)
    }
}

async fn replayed_body_or_business_key_is_a_duplicate_of_the_first_run<S: RunStore>(store: Arc<S>) {
    let first = run("run-first", "invoices", None, t(0));
    let key = claiming("d-1", "body-1", Some("inv-1"));
    assert_eq!(
        create(&*store, &first, "d-1", &key).await.unwrap(),
        Created::New
    );
    // The same body under a new delivery id; the same invoice in a new body.
    for (i, key) in [
        claiming("d-2", "body-1", None),
        claiming("d-3", "body-2", Some("inv-1")),
    ]
    .iter()
    .enumerate()
    {
        let replay = run(&format!("run-replay-{i}"), "invoices", None, t(1));
        let created = create(&*store, &replay, &key.delivery_id, key)
            .await
            .unwrap();
        assert_eq!(created, Created::Duplicate(first.id.clone()), "{key:?}");
        assert_eq!(store.get_run(&replay.id).await.unwrap(), None);
    }
    // A duplicate stored none of its claims: its delivery id is still free.
    let next = run("run-next", "invoices", None, t(2));
    let key = claiming("d-3", "body-3", Some("inv-2"));
    assert_eq!(
        create(&*store, &next, "d-3", &key).await.unwrap(),
        Created::New
    );
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(std::sync::Arc::new(handoff_core::memory::MemoryStore::new())).await;
                }
            )*
        }
        mod sqlite_in_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let store = handoff_local::sqlite::SqliteStore::open_in_memory().unwrap();
                    super::$test(std::sync::Arc::new(store)).await;
                }
            )*
        }
        mod sqlite_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = super::TempDb::new(stringify!($test));
                    let store = handoff_local::sqlite::SqliteStore::open(&db.0).unwrap();
                    super::$test(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

contract!(
    duplicate_delivery_starts_one_run,
    replayed_body_or_business_key_is_a_duplicate_of_the_first_run,
    run_round_trips_exactly,
    stale_transition_is_refused,
    concurrent_transitions_one_wins,
    list_runs_pages_newest_first,
    double_vote_is_refused,
    approval_closes_once,
    pending_approvals_page_oldest_first,
    decided_approvals_are_owed_until_delivered,
    slots_audit_and_feedback,
    feedback_is_one_per_run_and_reviewer,
    a_revoked_token_stays_revoked,
    a_cached_answer_is_returned_until_it_expires,
    an_expired_cached_answer_is_not_returned,
    concurrent_spends_sum_exactly,
);

// ---- SQLite only ----

#[tokio::test]
async fn expired_dedupe_key_no_longer_counts() {
    let store = SqliteStore::open_in_memory().unwrap();
    let first = run("run-old", "refunds", None, t(0));
    let expired = dedupe("refunds", "evt-9", Utc::now() - Duration::seconds(5));
    let created = create(&store, &first, "evt-9", &expired).await.unwrap();
    assert_eq!(created, Created::New);
    let second = run("run-new", "refunds", None, t(1));
    let created = create(&store, &second, "evt-9", &fresh("refunds", "evt-9"))
        .await
        .unwrap();
    assert_eq!(created, Created::New);
    // The fresh key now counts, and points at the second run.
    let third = run("run-third", "refunds", None, t(2));
    let created = create(&store, &third, "evt-9", &fresh("refunds", "evt-9"))
        .await
        .unwrap();
    assert_eq!(created, Created::Duplicate(second.id));
}

#[tokio::test]
async fn a_business_key_outlives_the_delivery_retention() {
    let store = SqliteStore::open_in_memory().unwrap();
    let first = run("run-old", "invoices", None, t(0));
    let key = DedupeKey {
        expires_at: Utc::now() - Duration::seconds(5),
        ..claiming("d-1", "body-1", Some("inv-1"))
    };
    assert_eq!(
        create(&store, &first, "d-1", &key).await.unwrap(),
        Created::New
    );
    // Delivery id and body expired; the invoice is still the one paid.
    let late = run("run-late", "invoices", None, t(1));
    let created = create(
        &store,
        &late,
        "d-1",
        &claiming("d-1", "body-1", Some("inv-1")),
    )
    .await
    .unwrap();
    assert_eq!(created, Created::Duplicate(first.id));
    // Without the business key the same bytes are new again once expired.
    let other = run("run-other", "invoices", None, t(2));
    let created = create(&store, &other, "d-1", &claiming("d-1", "body-1", None))
        .await
        .unwrap();
    assert_eq!(created, Created::New);
}

#[tokio::test]
async fn reusing_a_run_id_is_a_conflict_and_stores_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let r = run("run-1", "refunds", None, t(0));
    put_run(&store, &r).await;
    let again = create(&store, &r, "evt-2", &fresh("refunds", "evt-2")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // The dedupe key of the refused delivery was rolled back with it.
    let other = run("run-2", "refunds", None, t(1));
    let created = create(&store, &other, "evt-2", &fresh("refunds", "evt-2"))
        .await
        .unwrap();
    assert_eq!(created, Created::New);
}

/// Intake's one write: a new run is stored with its message queued; a
/// duplicate delivery or a refused run queues nothing.
#[tokio::test]
async fn a_run_created_queued_is_queued_once_and_a_refused_one_not_at_all() {
    let store = SqliteStore::open_in_memory().unwrap();
    let accept = |r: Run, delivery: &str| {
        let store = store.clone();
        let delivery = delivery.to_string();
        async move {
            store
                .create_run_queued(
                    &r,
                    &event("refunds", &delivery),
                    &fresh("refunds", &delivery),
                    &AuditEvent::received(&r, 0),
                    &format!("{{\"run_id\":\"{}\"}}", r.id),
                    t(0),
                )
                .await
        }
    };
    let r = run("run-1", "refunds", None, t(0));
    assert_eq!(accept(r.clone(), "evt-1").await.unwrap(), Created::New);
    assert!(store.get_run(&r.id).await.unwrap().is_some());
    assert_eq!(store.depth().await.unwrap(), 1);

    let retry = run("run-2", "refunds", None, t(1));
    let again = accept(retry, "evt-1").await.unwrap();
    assert_eq!(again, Created::Duplicate(r.id.clone()));
    let reused = accept(r.clone(), "evt-3").await;
    assert!(matches!(reused, Err(StoreError::Conflict(_))), "{reused:?}");
    assert_eq!(store.depth().await.unwrap(), 1, "nothing queued twice");

    let got = store.receive(10, 30, 0, t(0)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "{\"run_id\":\"run-1\"}");
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let db = TempDb::new("reopen");
    let r = run("run-durable", "refunds", Some("s@example.com"), Utc::now());
    {
        let store = SqliteStore::open(&db.0).unwrap();
        put_run(&store, &r).await;
        store
            .transition(
                &r.id,
                &[RunStatus::Received],
                RunStatus::Running,
                Stage::Start,
                t(3),
            )
            .await
            .unwrap();
        store
            .put_approval(&approval("ap-d", "run-durable", t(1)))
            .await
            .unwrap();
        store.send("{\"run\":1}", t(0)).await.unwrap();
        store
            .save_execution(&execution("run-durable", "RUNNING"), &["tok-1".into()])
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&db.0).unwrap();
    assert_eq!(store.schema_version().unwrap(), 7);
    let back = store.get_run(&r.id).await.unwrap().unwrap();
    assert_eq!(back.status, RunStatus::Running);
    assert_eq!(back.created_at, r.created_at);
    assert!(store
        .get_approval(&ApprovalId("ap-d".into()))
        .await
        .unwrap()
        .is_some());
    assert_eq!(store.depth().await.unwrap(), 1);
    assert_eq!(
        store.execution_for_token("tok-1").await.unwrap().as_deref(),
        Some("run-durable")
    );
    let duplicate = create(
        &store,
        &r,
        &r.delivery_id,
        &fresh("refunds", &r.delivery_id),
    )
    .await
    .unwrap();
    assert_eq!(duplicate, Created::Duplicate(r.id));
}

// ---- executions ----

fn execution(name: &str, status: &str) -> StoredExecution {
    StoredExecution {
        name: name.to_string(),
        state: json!({"current": "Reason", "input": {"run_id": name}}).to_string(),
        history: vec![history_event(1)],
        status: status.to_string(),
        next_wake: Some(t(30)),
        updated_at: t(10),
    }
}

fn history_event(id: u64) -> (u64, String) {
    (id, json!({"id": id, "type": "X"}).to_string())
}

#[tokio::test]
async fn execution_is_created_once() {
    let store = SqliteStore::open_in_memory().unwrap();
    let e = execution("run-1", "RUNNING");
    assert!(store.create_execution(&e).await.unwrap());
    let mut other = e.clone();
    other.state = json!({"other": true}).to_string();
    assert!(!store.create_execution(&other).await.unwrap());
    assert_eq!(store.load_execution("run-1").await.unwrap(), Some(e));
    assert_eq!(store.load_execution("nope").await.unwrap(), None);
    assert_eq!(
        store.execution_status("run-1").await.unwrap().as_deref(),
        Some("RUNNING")
    );
    assert_eq!(store.execution_status("nope").await.unwrap(), None);
}

#[tokio::test]
async fn saving_an_execution_replaces_state_and_tokens() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut e = execution("run-1", "RUNNING");
    store.create_execution(&e).await.unwrap();
    store
        .save_execution(&e, &["tok-a".into(), "tok-b".into()])
        .await
        .unwrap();
    assert_eq!(
        store.execution_for_token("tok-a").await.unwrap().as_deref(),
        Some("run-1")
    );

    e.state = json!({"current": "Act"}).to_string();
    e.history = vec![history_event(2), history_event(3)];
    e.next_wake = None;
    e.updated_at = t(20);
    store.save_execution(&e, &["tok-c".into()]).await.unwrap();
    // A save appends its events to those stored before.
    let mut whole = e.clone();
    whole.history = vec![history_event(1), history_event(2), history_event(3)];
    assert_eq!(store.load_execution("run-1").await.unwrap(), Some(whole));
    // A retried save replaces its events instead of adding them twice.
    store.save_execution(&e, &["tok-c".into()]).await.unwrap();
    assert_eq!(
        store
            .load_execution("run-1")
            .await
            .unwrap()
            .unwrap()
            .history
            .len(),
        3
    );
    assert_eq!(store.execution_for_token("tok-a").await.unwrap(), None);
    assert_eq!(store.execution_for_token("tok-b").await.unwrap(), None);
    assert_eq!(
        store.execution_for_token("tok-c").await.unwrap().as_deref(),
        Some("run-1")
    );

    e.status = "SUCCEEDED".into();
    store.save_execution(&e, &[]).await.unwrap();
    assert_eq!(store.execution_for_token("tok-c").await.unwrap(), None);
}

#[tokio::test]
async fn running_executions_are_what_a_restart_resumes() {
    let store = SqliteStore::open_in_memory().unwrap();
    for (name, status) in [
        ("run-b", "RUNNING"),
        ("run-a", "RUNNING"),
        ("run-c", "FAILED"),
    ] {
        store
            .create_execution(&execution(name, status))
            .await
            .unwrap();
    }
    store
        .save_execution(&execution("run-b", "SUCCEEDED"), &[])
        .await
        .unwrap();
    let names: Vec<String> = store
        .running_executions()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["run-a"]);
}

// ---- intake queue ----

#[tokio::test]
async fn received_message_hides_for_the_visibility_timeout_then_returns() {
    let store = SqliteStore::open_in_memory().unwrap();
    let id = store.send("one", t(0)).await.unwrap();
    store.send("two", t(0)).await.unwrap();
    assert_eq!(store.depth().await.unwrap(), 2);

    let got = store.receive(1, 30, 5, t(1)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].id.as_str(),
            got[0].body.as_str(),
            got[0].receive_count
        ),
        (id.as_str(), "one", 1)
    );
    // "one" is in flight: the next receive gets "two" only.
    let next = store.receive(10, 30, 5, t(2)).await.unwrap();
    assert_eq!(
        next.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["two"]
    );
    assert!(store.receive(10, 30, 5, t(20)).await.unwrap().is_empty());
    // In flight still counts towards the depth.
    assert_eq!(store.depth().await.unwrap(), 2);

    let again = store.receive(10, 30, 5, t(31)).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].body.as_str(), again[0].receive_count), ("one", 2));
    assert_ne!(again[0].receipt, got[0].receipt);
}

#[tokio::test]
async fn delete_removes_and_a_stale_receipt_deletes_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.send("one", t(0)).await.unwrap();
    let first = store.receive(1, 10, 5, t(0)).await.unwrap().remove(0);
    let second = store.receive(1, 10, 5, t(11)).await.unwrap().remove(0);
    store.delete(&first.receipt).await.unwrap();
    assert_eq!(store.depth().await.unwrap(), 1);
    store.delete(&second.receipt).await.unwrap();
    assert_eq!(store.depth().await.unwrap(), 0);
    store.delete("no-such-receipt").await.unwrap();
    assert!(store.receive(10, 10, 5, t(100)).await.unwrap().is_empty());
}

#[tokio::test]
async fn message_moves_to_dead_letters_after_max_receives() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.send("poison", t(0)).await.unwrap();
    store.send("fine", t(0)).await.unwrap();
    for i in 0..3 {
        let got = store.receive(1, 10, 3, t(i * 20)).await.unwrap();
        assert_eq!(got[0].body, "poison");
        assert_eq!(got[0].receive_count, (i + 1) as u32);
    }
    // The fourth receive would exceed 3: dead-lettered, and the receive
    // hands out the next message instead.
    let got = store.receive(1, 10, 3, t(100)).await.unwrap();
    assert_eq!(
        got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["fine"]
    );
    let dead = store.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].body.as_str(), dead[0].receive_count),
        ("poison", 3)
    );
    assert_eq!(store.depth().await.unwrap(), 1);
    assert!(store
        .receive(10, 10, 3, t(500))
        .await
        .unwrap()
        .iter()
        .all(|m| m.body == "fine"));
}

#[tokio::test]
async fn zero_visibility_hands_a_message_out_once_per_receive() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.send("a", t(0)).await.unwrap();
    let got = store.receive(10, 0, 0, t(0)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        store.receive(10, 0, 0, t(0)).await.unwrap()[0].receive_count,
        2
    );
}

// ---- outbox ----

#[tokio::test]
async fn outbox_lists_newest_first() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let entry = OutboxEntry {
            id: 0,
            at: t(i),
            kind: if i == 0 { "action" } else { "notification" }.into(),
            run_id: format!("run-{i}"),
            target: "ana@example.com".into(),
            subject: format!("subject {i}"),
            body: "body".into(),
            link: (i > 0).then(|| format!("/approvals/{i}")),
            delivered: i == 2,
        };
        let id = store.record(&entry).await.unwrap();
        ids.push((id, entry));
    }
    let listed = store.entries(2).await.unwrap();
    assert_eq!(listed.len(), 2);
    for (got, (id, mut want)) in listed.into_iter().zip(ids.into_iter().rev()) {
        want.id = id;
        assert_eq!(got, want);
    }
}
