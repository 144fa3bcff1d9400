//! Kill -9 the real binary while runs wait for approval and others are in
//! the middle of a stage; start it again on the same data: every run ends in
//! a final state, once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use handoff_local::client::is_final;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_runs_survive_sigkill_and_finish_once() {
    let receiver = Receiver::start().await;
    // Hold every action so the auto-approved runs are mid-stage (Act) at the
    // kill, however long all fifty take to get there.
    receiver.hold.store(true, Ordering::SeqCst);
    let mut options = UpOptions::sending_to("crash", &receiver);
    options.port = free_port();
    let mut up = Up::start(&options);
    let client = Arc::new(up.client());

    let mut runs: BTreeMap<String, &str> = BTreeMap::new();
    for i in 0..50 {
        // Even: needs approval; odd: runs straight to its actions.
        let workflow = if i % 2 == 0 {
            "support-triage"
        } else {
            "invoice-approval"
        };
        let (status, body) = client
            .webhook(workflow, &sample(workflow), Some(&format!("crash-{i}")))
            .await
            .unwrap();
        assert_eq!(status, 202, "{body}");
        runs.insert(body["run_id"].as_str().unwrap().to_string(), workflow);
    }
    for (id, workflow) in &runs {
        let expected = if *workflow == "support-triage" {
            "AWAITING_APPROVAL"
        } else {
            "RUNNING"
        };
        client.wait_for(id, WAIT, |s| s == expected).await.unwrap();
    }
    // Let the held actions arrive at the receiver, then kill mid-Act.
    tokio::time::sleep(Duration::from_millis(500)).await;
    up.kill();
    assert!(
        receiver.got.lock().unwrap().is_empty(),
        "no action finished before the kill"
    );

    receiver.hold.store(false, Ordering::SeqCst);
    let up = Up::start(&options);
    let client = Arc::new(up.client());
    // A request already handed to the approval stage is not asked again.
    let (_, outbox) = client.get_json("/outbox").await.unwrap();
    for (id, workflow) in &runs {
        if *workflow == "support-triage" {
            let notified = outbox["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "notification" && e["run_id"] == id.as_str())
                .count();
            assert_eq!(
                notified, 2,
                "{id}: one notification per reviewer, none again"
            );
        }
    }
    for (id, workflow) in &runs {
        if *workflow == "support-triage" {
            let status = client.run_status(id).await.unwrap();
            assert_eq!(
                status, "AWAITING_APPROVAL",
                "{id} still waits after the restart"
            );
            let answered = client.decide_all(id, "approve").await.unwrap();
            assert!(answered >= 1, "the pre-crash link of {id} still works");
        }
    }
    for id in runs.keys() {
        let status = client.wait_for(id, WAIT, is_final).await.unwrap();
        assert_eq!(status, "COMPLETED", "{id}");
    }

    let listed = all_runs(&client).await;
    let ids: BTreeSet<String> = listed
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), 50, "no run lost or duplicated");
    assert_eq!(ids, runs.keys().cloned().collect());
    for id in runs.keys() {
        let run = client.run(id).await.unwrap();
        assert_eq!(
            events(&run, "finalize.finished").len(),
            1,
            "{id} finalized once"
        );
        assert!(
            !receiver.for_run(id).is_empty(),
            "{id}'s actions were delivered after the restart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_timer_fires_after_a_restart() {
    // support-triage with a 3 s approval that rejects on timeout.
    let specs = specs_timing_out("crash-specs", 3, "reject");
    let dir = temp_dir("crash-timer");
    let mut options = UpOptions::new(&dir);
    options.workflows_in(specs);
    let mut up = Up::start(&options);
    let client = up.client();
    let run_id = support_run_awaiting_approval(&client, "timer-1").await;
    let killed_at = std::time::Instant::now();
    up.kill();
    // Down across the deadline: the timer is due when the process returns.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let up = Up::start(&options);
    let client = up.client();
    let status = client
        .wait_for(&run_id, Duration::from_secs(10), is_final)
        .await
        .unwrap();
    assert_eq!(status, "REJECTED");
    assert!(killed_at.elapsed() < Duration::from_secs(12));
}

/// A database written before history events got a table of their own keeps
/// each execution's history inside its state. Such a waiting run resumes,
/// finishes, and ends with its whole history in the table, ids unbroken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_saved_with_its_history_inside_its_state_resumes_whole() {
    let dir = temp_dir("crash-old-format");
    let mut options = UpOptions::new(&dir);
    // The approval links name the port: the same one after the restart.
    options.port = free_port();
    let mut up = Up::start(&options);
    let client = up.client();
    let run_id = support_run_awaiting_approval(&client, "old-1").await;
    up.kill();

    let db = rusqlite::Connection::open(dir.join("handoff.db")).unwrap();
    let history_ids = |db: &rusqlite::Connection| -> Vec<i64> {
        let mut st = db
            .prepare("SELECT id FROM history WHERE execution = ?1 ORDER BY id")
            .unwrap();
        st.query_map([&run_id], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let before = history_ids(&db);
    assert!(before.len() > 3, "{before:?}");
    // Back to the old format: the events inside the state, none in the table.
    let events: Vec<serde_json::Value> = {
        let mut st = db
            .prepare("SELECT event FROM history WHERE execution = ?1 ORDER BY id")
            .unwrap();
        st.query_map([&run_id], |row| row.get::<_, String>(0))
            .unwrap()
            .map(|text| serde_json::from_str(&text.unwrap()).unwrap())
            .collect()
    };
    let state: String = db
        .query_row(
            "SELECT state FROM executions WHERE name = ?1",
            [&run_id],
            |r| r.get(0),
        )
        .unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert!(state.get("history").is_none(), "the state holds no history");
    state["history"] = serde_json::json!({ "events": events });
    db.execute(
        "UPDATE executions SET state = ?2 WHERE name = ?1",
        [&run_id, &state.to_string()],
    )
    .unwrap();
    db.execute("DELETE FROM history WHERE execution = ?1", [&run_id])
        .unwrap();
    drop(db);

    let up = Up::start(&options);
    let client = up.client();
    assert!(client.decide_all(&run_id, "approve").await.unwrap() >= 1);
    let status = client.wait_for(&run_id, WAIT, is_final).await.unwrap();
    assert_eq!(status, "COMPLETED");
    drop(up);
    let db = rusqlite::Connection::open(dir.join("handoff.db")).unwrap();
    let after = history_ids(&db);
    assert!(after.len() > before.len(), "{after:?}");
    assert_eq!(after, (1..=after.len() as i64).collect::<Vec<_>>());
}
