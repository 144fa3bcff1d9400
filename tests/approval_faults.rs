//! A recorded human decision is never overturned by a fault, through the
//! real `handoff` binary: reviewers reject while every answer to the waiting
//! task fails (`HANDOFF_FAULT_TASK_ANSWERS`), then the fault clears. Whether
//! the approval times out first (policy: approve) or the redelivery sweep
//! gets there, the run ends with the people's decision and nothing acts.

mod common;

use std::time::Duration;

use common::*;
use handoff_local::client::{decide, is_final, Client};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(90);

/// Both reviewers reject a fresh support-triage run while task answers fail;
/// answers the run id and the second (settling) vote's reply.
async fn rejected_while_answers_fail(
    tag: &str,
    timeout: u64,
) -> (Up, Receiver, Client, String, String) {
    let receiver = Receiver::start().await;
    let mut options = UpOptions::sending_to(tag, &receiver);
    options.workflows_in(specs_timing_out(
        &format!("{tag}-specs"),
        timeout,
        "approve",
    ));
    // Three attempts per delivery: the settling vote's answer fails whole.
    options.env = vec![("HANDOFF_FAULT_TASK_ANSWERS".into(), "3".into())];
    let up = Up::start(&options);
    let client = up.client();
    let run_id = support_run_awaiting_approval(&client, tag).await;

    let links = client.links_when_notified(&run_id, 2, WAIT).await.unwrap();
    assert_eq!(links.len(), 2, "{links:?}");
    let (first, body) = decide(&links[0], "reject", "not a refund").await.unwrap();
    assert_eq!(first, 202, "{body}");
    let (second, body) = decide(&links[1], "reject", "agreed").await.unwrap();
    assert_eq!(second, 503, "the answer could not be delivered: {body}");
    (up, receiver, client, run_id, body)
}

async fn assert_rejected_by_people(client: &Client, receiver: &Receiver, run_id: &str) -> Value {
    let status = client.wait_for(run_id, WAIT, is_final).await.unwrap();
    let run = client.run(run_id).await.unwrap();
    assert_eq!(status, "REJECTED", "{run}");
    assert!(events(&run, "action.performed").is_empty(), "{run}");
    assert!(
        receiver.for_run(run_id).is_empty(),
        "no action reached anyone"
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_after_an_undelivered_rejection_keeps_the_rejection() {
    let (_up, receiver, client, run_id, reply) =
        // Long enough that a loaded machine still fetches the links in time.
        rejected_while_answers_fail("fault-timeout", 10).await;
    assert!(reply.contains("saved"), "{reply}");
    assert!(!reply.contains("nothing was decided"), "{reply}");

    let run = assert_rejected_by_people(&client, &receiver, &run_id).await;
    let timed_out = events(&run, "approval.timed_out");
    assert_eq!(timed_out.len(), 1, "{run}");
    assert_eq!(timed_out[0]["detail"]["decided_by"], "reviewers");
    assert_eq!(timed_out[0]["detail"]["decision"], "rejected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_rejection_is_redelivered_when_the_service_recovers() {
    let (_up, receiver, client, run_id, _) = rejected_while_answers_fail("fault-sweep", 3600).await;
    let run = assert_rejected_by_people(&client, &receiver, &run_id).await;
    assert!(events(&run, "approval.timed_out").is_empty(), "{run}");
    let decided = events(&run, "approval.decided");
    assert_eq!(decided.len(), 1, "{run}");
    assert_eq!(decided[0]["detail"]["decision"], "rejected");
}
