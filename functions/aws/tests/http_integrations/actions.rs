//! Actions through [`HttpActionSink`] and the act stage against a loopback
//! receiver that misbehaves the way real systems do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use handoff_aws::http_sink::{HttpActionSink, RetryPolicy};
use handoff_aws::outbound::OutboundPolicy;
use handoff_core::domain::{ActionRecord, RunRef};
use handoff_core::ports::{ActionError, RunData, Slot};
use handoff_core::stages::{act::Act, StageError};
use handoff_core::testing::{seed, Harness};
use serde_json::json;

use crate::support::*;

/// Quick backoff so the tests take milliseconds; `Retry-After` is still
/// honoured in full.
pub fn sink(outbound: OutboundPolicy) -> Arc<HttpActionSink> {
    let policy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
        timeout: Duration::from_secs(2),
        min_attempt: Duration::from_millis(200),
    };
    Arc::new(HttpActionSink::with_policy(policy, outbound, None).unwrap())
}

pub fn act(h: &Harness) -> Act {
    act_with(h, local_policy(h))
}

pub fn act_with(h: &Harness, outbound: OutboundPolicy) -> Act {
    Act {
        catalog: h.catalog.clone(),
        store: h.store.clone(),
        sink: sink(outbound),
        secrets: h.secrets.clone(),
        clock: h.clock.clone(),
        dry_run: h.dry_run,
    }
}

/// A signed webhook per path given, all performed by the one rule.
fn webhooks(receiver: &Server, paths: &[&str]) -> String {
    paths
        .iter()
        .map(|p| {
            format!(
                "  - {{ name: {p}, type: webhook, url: \"{}/{p}\", secret: integration/outbound, body: '{{\"sender\": {{{{ event.sender | tojson }}}}, \"run\": {{{{ run.id | tojson }}}}}}' }}\n",
                receiver.url
            )
        })
        .collect()
}

pub async fn decided(h: &Harness, id: &str, actions: &[&str]) -> RunRef {
    let run = seed_run(h, id, "ada@example.com").await;
    h.put_decision(&run.run_id, &seed::decision("all", actions))
        .await;
    run
}

pub async fn record(h: &Harness, run: &RunRef, action: &str) -> ActionRecord {
    let value = h
        .store
        .get_slot(&run.run_id, &Slot::Action(action.into()))
        .await
        .unwrap()
        .expect("action recorded");
    serde_json::from_value(value).unwrap()
}

fn setup(receiver: &Server, paths: &[&str], extra: &str) -> Harness {
    harness("  lookups: []", &webhooks(receiver, paths), paths, extra)
}

/// A harness whose one action is the webhook `notify` to `receiver`, and
/// the run `id` decided to send it.
async fn decided_notify(receiver: &Server, id: &str) -> (Harness, RunRef) {
    let h = setup(receiver, &["notify"], "");
    let run = decided(&h, id, &["notify"]).await;
    (h, run)
}

#[tokio::test]
async fn two_503s_then_200_is_delivered_once_after_three_attempts() {
    let receiver =
        Server::start(|_, before| Reply::status(if before < 2 { 503 } else { 200 })).await;
    let (h, run) = decided_notify(&receiver, "run-act-503").await;
    act(&h).run(&run).await.unwrap();
    let hits = receiver.hits("/notify");
    assert_eq!(hits.len(), 3);
    let record = record(&h, &run, "notify").await;
    assert!(record.succeeded);
    assert_eq!(record.attempts, 3);
    assert_eq!(record.status_code, Some(200));
    assert!(
        hits.iter()
            .all(|r| r.headers["idempotency-key"] == "run-act-503:notify"),
        "every attempt carries the same key"
    );
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let receiver = Server::start(|_, before| {
        if before == 0 {
            Reply {
                retry_after: Some(1),
                ..Reply::status(429)
            }
        } else {
            Reply::status(200)
        }
    })
    .await;
    let (h, run) = decided_notify(&receiver, "run-act-429").await;
    let t0 = Instant::now();
    act(&h).run(&run).await.unwrap();
    // The sink's own backoff is at most 20 ms: only Retry-After explains this.
    assert!(t0.elapsed() >= Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(receiver.hits("/notify").len(), 2);
    assert_eq!(record(&h, &run, "notify").await.attempts, 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_gives_up_in_time_and_records_why() {
    let receiver = Server::start(|_, _| Reply {
        retry_after: Some(4),
        ..Reply::status(429)
    })
    .await;
    let (h, run) = decided_notify(&receiver, "run-act-deadline").await;
    let deadline = Instant::now() + Duration::from_secs(1);
    let err = act(&h).run_until(&run, Some(deadline)).await.unwrap_err();
    assert!(Instant::now() < deadline, "gave up before the deadline");
    assert_eq!(
        err.name(),
        "Handoff.ActionFailed",
        "the state machine retries it"
    );
    assert_eq!(receiver.hits("/notify").len(), 1);
    let record = record(&h, &run, "notify").await;
    assert!(!record.succeeded);
    assert_eq!(record.attempts, 1);
    let why = record.response_excerpt.unwrap_or_default();
    assert!(why.contains("deadline"), "{why}");
}

#[tokio::test]
async fn a_receiver_that_hangs_is_cut_off_at_the_deadline_not_at_the_attempt_timeout() {
    let receiver = Server::start(|_, _| Reply {
        delay: Duration::from_secs(10),
        ..Reply::status(200)
    })
    .await;
    let (h, run) = decided_notify(&receiver, "run-act-hang").await;
    let t0 = Instant::now();
    let err = act(&h)
        .run_until(&run, Some(t0 + Duration::from_millis(700)))
        .await
        .unwrap_err();
    // The attempt timeout is 2 s; only the deadline ends it sooner.
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(err.name(), "Handoff.ActionFailed");
    assert_eq!(record(&h, &run, "notify").await.attempts, 1);
}

#[tokio::test]
async fn an_action_the_deadline_leaves_no_time_for_is_not_sent() {
    let receiver = Server::start(|_, _| Reply::status(200)).await;
    let (h, run) = decided_notify(&receiver, "run-act-late").await;
    let err = act(&h)
        .run_until(&run, Some(Instant::now()))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "Handoff.ActionFailed");
    assert!(receiver.hits("/notify").is_empty());
    assert_eq!(record(&h, &run, "notify").await.attempts, 0);
}

#[tokio::test]
async fn a_400_is_not_retried_and_fails_the_run() {
    let receiver = Server::start(|_, _| Reply::status(400)).await;
    let (h, run) = decided_notify(&receiver, "run-act-400").await;
    let err = act(&h).run(&run).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StageError::Action {
                source: ActionError::Rejected {
                    status: 400,
                    attempts: 1,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.name(), "Handoff.ActionRejected", "final: not retried");
    assert_eq!(receiver.hits("/notify").len(), 1);
    let record = record(&h, &run, "notify").await;
    assert!(!record.succeeded);
    assert_eq!(record.status_code, Some(400));
}

#[tokio::test]
async fn a_rerun_sends_the_same_idempotency_key_and_skips_what_succeeded() {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = down.clone();
    let receiver = Server::start(move |req, _| {
        let down = req.path == "/ticket" && flag.load(std::sync::atomic::Ordering::SeqCst);
        Reply::status(if down { 503 } else { 200 })
    })
    .await;
    let h = setup(&receiver, &["reply", "ticket"], "");
    let run = decided(&h, "run-act-rerun", &["reply", "ticket"]).await;
    let err = act(&h).run(&run).await.unwrap_err();
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    let first_key = receiver.hits("/ticket")[0].headers["idempotency-key"].clone();
    assert_eq!(first_key, "run-act-rerun:ticket");

    down.store(false, std::sync::atomic::Ordering::SeqCst);
    act(&h).run(&run).await.expect("the re-run delivers");
    let tickets = receiver.hits("/ticket");
    assert_eq!(tickets.len(), 4, "three failed attempts, one delivery");
    assert!(tickets
        .iter()
        .all(|t| t.headers["idempotency-key"] == first_key));
    assert_eq!(
        receiver.hits("/reply").len(),
        1,
        "the reply is not sent twice"
    );
    let finished = audit_of(&h, &run, "act.finished").await;
    assert_eq!(finished.last().unwrap()["skipped"], json!(["reply"]));
}

#[tokio::test]
async fn the_receiver_verifies_the_webhook_signature() {
    let receiver = Server::start(|req, _| {
        let signed = format!("{}.{}", req.headers["x-handoff-timestamp"], req.body);
        let expected = format!(
            "v1={}",
            handoff_core::trigger::hmac_hex(OUTBOUND_SECRET, signed.as_bytes())
        );
        let verified = req.headers["x-handoff-signature"] == expected;
        Reply::status(if verified { 200 } else { 401 })
    })
    .await;
    let (h, run) = decided_notify(&receiver, "run-act-signed").await;
    act(&h).run(&run).await.expect("the signature verifies");
    let hit = &receiver.hits("/notify")[0];
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&hit.body).unwrap(),
        json!({ "sender": "ada@example.com", "run": "run-act-signed" })
    );
}

#[tokio::test]
async fn a_dry_run_workflow_sends_nothing_and_records_each_action() {
    let receiver = Server::start(|_, _| Reply::status(200)).await;
    let h = setup(&receiver, &["reply", "ticket"], "dry_run: true");
    let run = decided(&h, "run-act-dry", &["reply", "ticket"]).await;
    let out = act(&h).run(&run).await.unwrap();
    assert_eq!(out["dry_run"], 2);
    assert!(receiver.seen.lock().unwrap().is_empty(), "nothing was sent");
    let rehearsed = audit_of(&h, &run, "action.dry_run").await;
    assert_eq!(rehearsed.len(), 2);
    assert_eq!(rehearsed[0]["target"], format!("{}/reply", receiver.url));
    assert!(rehearsed[0]["body"]
        .as_str()
        .unwrap()
        .contains("ada@example.com"));
    let record = record(&h, &run, "reply").await;
    assert!(record.dry_run && !record.succeeded);
}
