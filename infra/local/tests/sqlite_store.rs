//! The run store contract (`handoff_core::testing::store_contract`), run
//! against the in-memory reference and against SQLite (in memory and on a
//! file, where reads go through other connections than writes). Then what only
//! SQLite has: dedupe expiry, durability across a reopen, executions, the
//! intake queue and the outbox.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, Utc};
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_core::testing::fixtures::*;
use handoff_core::testing::store_contract::start_run;
use handoff_local::sqlite::SqliteStore;
use handoff_local::store::*;
use serde_json::json;

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

mod memory {
    async fn store(_: &str) -> ((), Arc<handoff_core::memory::MemoryStore>) {
        ((), Arc::new(handoff_core::memory::MemoryStore::new()))
    }
    use std::sync::Arc;
    handoff_core::store_contract_tests!(store);
}

mod sqlite_in_memory {
    async fn store(_: &str) -> ((), Arc<handoff_local::sqlite::SqliteStore>) {
        let store = handoff_local::sqlite::SqliteStore::open_in_memory().unwrap();
        ((), Arc::new(store))
    }
    use std::sync::Arc;
    handoff_core::store_contract_tests!(store);
}

mod sqlite_file {
    async fn store(scenario: &str) -> (super::TempDb, Arc<handoff_local::sqlite::SqliteStore>) {
        let db = super::TempDb::new(scenario);
        let store = handoff_local::sqlite::SqliteStore::open(&db.0).unwrap();
        (db, Arc::new(store))
    }
    use std::sync::Arc;
    handoff_core::store_contract_tests!(store);
}

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
async fn an_expired_record_does_not_hold_a_business_key() {
    let store = SqliteStore::open_in_memory().unwrap();
    // A delivery whose id happens to be a key's record, long expired.
    let record = DedupeClaim::business_key("sha256:inv-1").key;
    let old = run("run-old", "invoices", None, t(0));
    let expired = dedupe("invoices", &record, Utc::now() - Duration::seconds(5));
    create(&store, &old, &record, &expired).await.unwrap();

    let mailed = RunId("run-mailed".into());
    let holder = store
        .claim_business_key("invoices", "sha256:inv-1", &mailed)
        .await
        .unwrap();

    assert_eq!(holder, mailed);
    let again = RunId("run-again".into());
    let holder = store
        .claim_business_key("invoices", "sha256:inv-1", &again)
        .await
        .unwrap();
    assert_eq!(holder, mailed, "kept forever");
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
        start_run(&store, &r.id, t(3)).await.unwrap();
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
    assert_eq!(store.schema_version().unwrap(), 9);
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
