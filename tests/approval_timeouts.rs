//! Each on-timeout policy through the real `handoff` binary: support-triage
//! with a two-second approval nobody answers ends as its policy says
//! (approve-default acts, escalate sends fresh links to the escalation
//! reviewers with their own timeout, which reject when they too stay silent),
//! with an `approval.timed_out` audit entry naming the policy and outcome.

mod common;

use std::time::Duration;

use common::*;
use handoff_local::client::is_final;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const ESCALATION_REVIEWER: &str = "head-of-support@support.example.com";

/// The seed specs with support-triage's approval section replaced.
fn specs_with_policy(tag: &str, on_timeout: &str, escalation_timeout: u64) -> Scratch {
    specs_with(tag, 2, on_timeout, escalation_timeout, "")
}

fn specs_with(
    tag: &str,
    timeout: u64,
    on_timeout: &str,
    escalation_timeout: u64,
    extra: &str,
) -> Scratch {
    specs_with_support_triage(
        tag,
        &[
            (
                "timeout_seconds: 14400",
                format!("timeout_seconds: {timeout}"),
            ),
            (
                "on_timeout: escalate",
                format!("on_timeout: {on_timeout}{extra}"),
            ),
            (
                "escalation_timeout_seconds: 7200",
                format!("escalation_timeout_seconds: {escalation_timeout}"),
            ),
        ],
    )
}

async fn final_status(w: &WaitingRun) -> String {
    w.client.wait_for(&w.run_id, WAIT, is_final).await.unwrap()
}

/// A support-triage run whose first approval times out after two seconds
/// under `policy`, waiting for that approval.
async fn waiting_under_policy(tag: &str, policy: &str, escalation_timeout: u64) -> WaitingRun {
    let specs = specs_with_policy(&format!("specs-{tag}"), policy, escalation_timeout);
    WaitingRun::start(&format!("timeout-{tag}"), Some(specs)).await
}

/// A run as in `waiting_under_policy` once it has ended as `expected`: the
/// run and its document.
async fn ended_under_policy(
    tag: &str,
    policy: &str,
    escalation_timeout: u64,
    expected: &str,
) -> (WaitingRun, Value) {
    let w = waiting_under_policy(tag, policy, escalation_timeout).await;
    assert_eq!(final_status(&w).await, expected);
    let run = w.client.run(&w.run_id).await.unwrap();
    (w, run)
}

/// The details of the run's `approval.timed_out` entries, checked to be
/// `count`.
fn timed_out_details(run: &Value, count: usize) -> Vec<Value> {
    let details = audit(run, "approval.timed_out");
    assert_eq!(details.len(), count, "{run}");
    details
}

/// The only `approval.timed_out` detail, checked to name `policy` and
/// `decision`.
fn timed_out_once(run: &Value, policy: &str, decision: &str) -> Value {
    let detail = timed_out_details(run, 1).remove(0);
    assert_eq!(detail["policy"], policy);
    assert_eq!(detail["decision"], decision);
    detail
}

/// The run's notification entries in the outbox, newest first.
async fn notification_entries(w: &WaitingRun) -> Vec<Value> {
    let (status, body) = w.client.get_json("/outbox").await.unwrap();
    assert_eq!(status, 200);
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["run_id"] == w.run_id.as_str() && e["kind"] == "notification")
        .cloned()
        .collect()
}

/// `(reviewer, link)` per notification of the run, oldest first.
async fn notifications(w: &WaitingRun) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = notification_entries(w)
        .await
        .iter()
        .map(|e| {
            (
                e["target"].as_str().unwrap().to_string(),
                e["link"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.reverse();
    out
}

fn approval_id(link: &str) -> &str {
    link.split("/approvals/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_default_acts_when_nobody_answers() {
    let (w, run) = ended_under_policy("approve", "approve", 2, "COMPLETED").await;
    timed_out_once(&run, "approve", "approved");
    assert!(
        !events(&run, "action.performed").is_empty(),
        "approved by policy, so it acts"
    );
    assert!(
        !w.receiver.for_run(&w.run_id).is_empty(),
        "the reply reached the receiver"
    );
    assert!(events(&run, "approval.vote").is_empty(), "no person voted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_policy_ends_rejected_without_acting() {
    let (w, run) = ended_under_policy("reject", "reject", 2, "REJECTED").await;
    timed_out_once(&run, "reject", "rejected");
    assert!(events(&run, "action.performed").is_empty());
    assert!(w.receiver.for_run(&w.run_id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_sends_fresh_links_that_can_approve() {
    let w = waiting_under_policy("escalate", "escalate", 30).await;
    let first = notifications(&w).await;
    assert_eq!(first.len(), 2, "the two first reviewers: {first:?}");

    // After the first timeout the run keeps waiting, for the escalation reviewer.
    let start = std::time::Instant::now();
    let escalated = loop {
        let all = notifications(&w).await;
        if let Some(n) = all.iter().find(|(r, _)| r == ESCALATION_REVIEWER) {
            break n.clone();
        }
        assert!(
            start.elapsed() < WAIT,
            "no escalation notification: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        w.client.run_status(&w.run_id).await.unwrap(),
        "AWAITING_APPROVAL"
    );
    assert_ne!(
        approval_id(&escalated.1),
        approval_id(&first[0].1),
        "a fresh approval"
    );
    assert_eq!(
        notifications(&w).await.len(),
        3,
        "only the escalation reviewer is notified again"
    );

    // The first reviewers' links are closed; the escalation link decides.
    let (late, _) = handoff_local::client::decide(&first[0].1, "approve", "late")
        .await
        .unwrap();
    assert!(
        late == 410 || late == 409,
        "an old link after escalation: {late}"
    );
    let (status, body) = handoff_local::client::decide(&escalated.1, "approve", "escalated ok")
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(final_status(&w).await, "COMPLETED");

    let run = w.client.run(&w.run_id).await.unwrap();
    let timed_out = timed_out_once(&run, "escalate", "escalate");
    assert_eq!(timed_out["timeout_seconds"], 30);
    let requested = events(&run, "approval.requested");
    assert_eq!(requested.len(), 2);
    assert_eq!(requested[1]["detail"]["escalation"], true);
    assert_eq!(
        requested[1]["detail"]["reviewers"],
        serde_json::json!([ESCALATION_REVIEWER])
    );
    let decided = events(&run, "approval.decided");
    assert_eq!(
        decided[0]["detail"]["reviewers"],
        serde_json::json!([ESCALATION_REVIEWER])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_escalation_is_rejected() {
    let (w, run) = ended_under_policy("escalate-silent", "escalate", 2, "REJECTED").await;
    let timed_out = timed_out_details(&run, 2);
    assert_eq!(timed_out[0]["decision"], "escalate");
    assert_eq!(timed_out[1]["escalation"], true);
    assert_eq!(timed_out[1]["decision"], "rejected");
    assert!(w.receiver.for_run(&w.run_id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_reviewers_are_reminded_before_the_timeout() {
    let specs = specs_with(
        "specs-remind",
        5,
        "reject",
        5,
        "\n  remind_before_seconds: 3",
    );
    let w = WaitingRun::start("remind", Some(specs)).await;
    assert_eq!(final_status(&w).await, "REJECTED");
    let entries = notification_entries(&w).await;
    let subjects: Vec<&str> = entries
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    let reminders = subjects
        .iter()
        .filter(|s| s.starts_with("Reminder: "))
        .count();
    assert_eq!(reminders, 2, "one reminder per reviewer: {subjects:?}");
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    let run = w.client.run(&w.run_id).await.unwrap();
    let reminded = events(&run, "approval.reminded");
    assert_eq!(reminded.len(), 1, "{run}");
    assert_eq!(
        reminded[0]["detail"]["reminded"].as_array().unwrap().len(),
        2
    );
    timed_out_details(&run, 1);
}
