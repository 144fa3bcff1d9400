//! How many store calls a second SQLite gives the local runtime: a file
//! database in WAL mode, many concurrent callers, as `handoff up` has.
//!
//! `cargo run --release -p handoff-local --example sqlite_bench [runs] [concurrency]`

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_local::sqlite::SqliteStore;
use handoff_local::store::{ExecutionLog, IntakeQueue, StoredExecution};
use serde_json::json;

fn run(i: usize) -> (Run, CanonicalEvent, DedupeKey) {
    let now = Utc::now();
    let id = RunId(format!("run-{i:08}"));
    let run = Run {
        id,
        workflow: "refunds".into(),
        status: RunStatus::Received,
        stage: Stage::Ingest,
        delivery_id: format!("evt-{i}"),
        sender: Some("customer@example.com".into()),
        created_at: now,
        updated_at: now,
        summary: RunSummary::default(),
    };
    let event = CanonicalEvent {
        workflow: "refunds".into(),
        delivery_id: format!("evt-{i}"),
        received_at: now,
        fields: [(
            "text".to_string(),
            json!("I was charged twice, please refund"),
        )]
        .into(),
        payload: json!({"id": i, "body": "x".repeat(512)}),
        documents: Vec::new(),
    };
    let dedupe = DedupeKey {
        workflow: "refunds".into(),
        delivery_id: format!("evt-{i}"),
        expires_at: now + Duration::days(3),
        body_hash: None,
        business_key: None,
    };
    (run, event, dedupe)
}

/// Runs `per_task` over `0..n` on `concurrency` tasks; returns ops/s.
async fn measure<F, Fut>(label: &str, n: usize, concurrency: usize, per_task: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let per_task = Arc::new(per_task);
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|c| {
            let f = per_task.clone();
            tokio::spawn(async move {
                let mut i = c;
                while i < n {
                    f(i).await;
                    i += concurrency;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!("{label:<44} {n:>7} in {secs:>6.2} s = {rate:>9.0} /s");
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    let concurrency = args.get(1).copied().unwrap_or(32);
    let path = std::env::temp_dir().join(format!("handoff-bench-{}.db", std::process::id()));
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    println!(
        "SQLite {} (WAL, synchronous=NORMAL), {concurrency} concurrent callers",
        rusqlite::version()
    );

    let s = store.clone();
    measure(
        "create_run (dedupe + run + event, 1 tx)",
        n,
        concurrency,
        move |i| {
            let s = s.clone();
            async move {
                let (r, e, d) = run(i);
                assert_eq!(
                    s.create_run(&r, &e, &d, &AuditEvent::received(&r, 0))
                        .await
                        .unwrap(),
                    Created::New
                );
            }
        },
    )
    .await;

    let s = store.clone();
    measure(
        "transition (conditional UPDATE)",
        n,
        concurrency,
        move |i| {
            let s = s.clone();
            async move {
                let id = RunId(format!("run-{i:08}"));
                s.transition(
                    &id,
                    &[RunStatus::Received],
                    RunStatus::Running,
                    Stage::Start,
                    Utc::now(),
                )
                .await
                .unwrap();
            }
        },
    )
    .await;

    let s = store.clone();
    measure("get_run (reader connection)", n, concurrency, move |i| {
        let s = s.clone();
        async move {
            let id = RunId(format!("run-{i:08}"));
            assert!(s.get_run(&id).await.unwrap().is_some());
        }
    })
    .await;

    // Roughly what one run costs the store end to end without approval:
    // queue send/receive/delete, the run, 3 transitions, 3 slots, 4 audit
    // lines, an execution created and saved 4 times.
    let runs = n / 4;
    let s = store.clone();
    let rate = measure("whole run (~22 store calls)", runs, concurrency, move |i| {
        let s = s.clone();
        async move {
            let i = i + n;
            let (r, e, d) = run(i);
            let now = Utc::now();
            s.send(r.id.as_str(), now).await.unwrap();
            s.create_run(&r, &e, &d, &AuditEvent::received(&r, 0))
                .await
                .unwrap();
            let exec = StoredExecution {
                name: r.id.0.clone(),
                state: json!({"current": "Context", "input": {"run_id": r.id.0}}).to_string(),
                history: Vec::new(),
                status: "RUNNING".into(),
                next_wake: None,
                updated_at: now,
            };
            s.create_execution(&exec).await.unwrap();
            let steps = [
                (
                    RunStatus::Received,
                    RunStatus::Running,
                    Stage::Context,
                    Slot::Context,
                ),
                (
                    RunStatus::Running,
                    RunStatus::Running,
                    Stage::Reason,
                    Slot::Ai,
                ),
                (
                    RunStatus::Running,
                    RunStatus::Completed,
                    Stage::Act,
                    Slot::Decision,
                ),
            ];
            for (from, to, stage, slot) in steps {
                s.transition(&r.id, &[from], to, stage, now).await.unwrap();
                s.put_slot(&r.id, &slot, &json!({"label": "refund", "confidence": 0.9}))
                    .await
                    .unwrap();
                s.append(&AuditEvent::new(&r.id, now, stage, "stage.done", json!({})))
                    .await
                    .unwrap();
                s.save_execution(&exec, &[]).await.unwrap();
            }
            s.append(&AuditEvent::new(
                &r.id,
                now,
                Stage::Finalize,
                "run.done",
                json!({}),
            ))
            .await
            .unwrap();
            s.save_execution(&exec, &[]).await.unwrap();
            for m in s.receive(1, 30, 5, now).await.unwrap() {
                s.delete(&m.receipt).await.unwrap();
            }
        }
    })
    .await;
    println!("=> store-bound ceiling: {rate:.0} runs/s");

    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
