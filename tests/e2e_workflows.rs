//! One seed workflow end to end over real HTTP on loopback: a signed webhook
//! into the real `handoff` binary, the reviewer's link POSTed where the
//! workflow asks for approval, the actions received (and their signatures
//! checked) by a local receiver, and the run's audit trail.

mod common;

use std::time::Duration;

use common::*;
use handoff_local::client::is_final;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// A page's HTML over HTTP as the local operator (status 200 asserted).
async fn page(client: &handoff_local::client::Client, base: &str, path: &str) -> String {
    let builder = hyper::Request::builder()
        .method("GET")
        .header("authorization", client.authorization().unwrap());
    let (status, body) =
        handoff_local::adapters::http_call(&format!("{base}{path}"), builder, Vec::new())
            .await
            .unwrap();
    assert_eq!(status, 200, "GET {base}{path}");
    String::from_utf8(body).unwrap()
}

fn assert_full_trail(run: &Value, approved: bool) {
    let kinds = audit_kinds(run);
    let mut expected = vec![
        "run.received",
        "start.finished",
        "context.finished",
        "reason.finished",
        "decide.finished",
    ];
    if approved {
        expected.extend(["approval.requested", "approval.decided"]);
    }
    expected.extend(["action.performed", "act.finished", "finalize.finished"]);
    for kind in expected {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in {kinds:?}");
    }
}

/// Sends `workflow`'s sample, approves it if asked, checks the trail and
/// returns what its actions delivered.
/// The action each workflow signs its request of, and the secret it signs with.
fn signed_action(workflow: &str) -> Option<(&str, &str)> {
    match workflow {
        "support-triage" => Some(("reply_to_customer", "support-triage/outbound")),
        "invoice-approval" => Some(("schedule_payment", "invoice-approval/outbound")),
        "customer-onboarding" => Some(("create_onboarding_tasks", "customer-onboarding/outbound")),
        _ => None,
    }
}

async fn approved_path(workflow: &str) -> Vec<Received> {
    let receiver = Receiver::start().await;
    let up = Up::start(&UpOptions::sending_to(workflow, &receiver));
    let client = up.client();

    let run_id = client
        .send(workflow, &sample(workflow), "e2e-approved-1")
        .await
        .unwrap();

    let status = client
        .wait_for(&run_id, WAIT, |s| {
            s == "AWAITING_APPROVAL" || s == "COMPLETED"
        })
        .await
        .unwrap();
    let needed_approval = status == "AWAITING_APPROVAL";
    if needed_approval {
        assert!(
            receiver.for_run(&run_id).is_empty(),
            "no action before approval"
        );
        let links = client.links_when_notified(&run_id, 1, WAIT).await.unwrap();
        assert!(!links.is_empty(), "the outbox lists the reviewer links");
        assert!(links.iter().all(|l| l.starts_with(&up.url)));
        let dashboard = page(&client, &up.url, "/").await;
        assert!(dashboard.contains("Pending approvals"));
        assert!(
            dashboard.contains(&format!("/timeline/{run_id}")),
            "the pending run is listed"
        );
        let timeline = page(&client, &up.url, &format!("/timeline/{run_id}")).await;
        for part in [
            "reason.finished",
            "approval.requested",
            "AI output",
            "Decision",
        ] {
            assert!(timeline.contains(part), "timeline lacks {part}");
        }
        // A GET of the link only shows the page; it never decides.
        let shown = page(&client, &links[0], "").await;
        assert!(shown.contains("<form"), "the approval page has the form");
        assert_eq!(
            client.run_status(&run_id).await.unwrap(),
            "AWAITING_APPROVAL"
        );
        let answered = client.decide_all(&run_id, "approve").await.unwrap();
        assert!(answered >= 1);
    }
    let status = client
        .wait_for(&run_id, WAIT, |s| s == "COMPLETED" || s == "FAILED")
        .await
        .unwrap();
    assert_eq!(status, "COMPLETED");

    let received = receiver.for_run(&run_id);
    assert!(!received.is_empty(), "actions reached the receiver");
    if let Some((action, secret_name)) = signed_action(workflow) {
        let webhook = received
            .iter()
            .find(|r| r.headers["idempotency-key"] == format!("{run_id}:{action}"))
            .unwrap_or_else(|| panic!("{action} not received: {received:?}"));
        assert!(
            webhook.signature_valid(&up.secret(secret_name)),
            "x-handoff-signature verifies with {secret_name}"
        );
        assert!(!webhook.signature_valid("some-other-secret"));
    }
    let run = client.run(&run_id).await.unwrap();
    assert_full_trail(&run, needed_approval);
    assert_eq!(run["run"]["summary"]["reviewed"], needed_approval);
    received
}

/// The request the receiver got at `path`.
fn received_at<'a>(received: &'a [Received], path: &str) -> &'a Received {
    received
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("nothing received at {path}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_triage_refund_is_approved_and_replied_to() {
    approved_path("support-triage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lead_qualification_runs_to_the_crm() {
    approved_path("lead-qualification").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoice_approval_schedules_a_signed_payment() {
    approved_path("invoice-approval").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_onboarding_holds_a_high_risk_update_then_creates_signed_tasks() {
    let received = approved_path("customer-onboarding").await;
    let tasks = received_at(&received, "/hooks/handoff/onboarding").json();
    assert_eq!(tasks["account"], "Brightline Health");
    assert_eq!(tasks["team"], "onboarding-escalations");
    assert_eq!(tasks["go_live_date"], "2026-03-02");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revops_follow_up_updates_the_deal_after_approval() {
    let received = approved_path("revops-call-followup").await;
    let properties = &received_at(&received, "/crm/v3/objects/deals/9812734").json()["properties"];
    assert_eq!(properties["handoff_signal"], "renewal", "{properties}");
    assert_eq!(properties["amount"], 64000.0, "{properties}");
    assert_eq!(properties["closedate"], "2026-02-27", "{properties}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_run_takes_no_action() {
    let w = WaitingRun::start("reject", None).await;
    w.client.decide_all(&w.run_id, "reject").await.unwrap();
    let status = w.client.wait_for(&w.run_id, WAIT, is_final).await.unwrap();
    assert_eq!(status, "REJECTED");
    assert!(
        w.receiver.for_run(&w.run_id).is_empty(),
        "a rejected run acts on nothing"
    );
    let run = w.client.run(&w.run_id).await.unwrap();
    let kinds = audit_kinds(&run);
    assert!(kinds.iter().any(|k| k == "approval.decided"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "finalize.finished"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "action.performed"), "{kinds:?}");

    // The link is single-use: a second click gets a page, not a 500.
    let link = w.client.approval_links(&w.run_id).await.unwrap().remove(0);
    let (again, _) = handoff_local::client::decide(&link, "approve", "late")
        .await
        .unwrap();
    assert!(
        (400..500).contains(&again) || again == 200,
        "status {again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_approval_times_out_per_policy() {
    // The support-triage spec with a two-second approval that rejects on timeout.
    let specs = specs_timing_out("specs", 2, "reject");
    let w = WaitingRun::start("timeout", Some(specs)).await;
    let status = w.client.wait_for(&w.run_id, WAIT, is_final).await.unwrap();
    assert_eq!(status, "REJECTED");
    assert!(w.receiver.for_run(&w.run_id).is_empty());
    let run = w.client.run(&w.run_id).await.unwrap();
    let kinds = audit_kinds(&run);
    assert!(
        kinds
            .iter()
            .any(|k| k.contains("timeout") || k.contains("timed")),
        "{kinds:?}"
    );

    // The link of a timed-out approval answers with a page, never a 500.
    let link = w.client.approval_links(&w.run_id).await.unwrap().remove(0);
    let (late, _) = handoff_local::client::decide(&link, "approve", "too late")
        .await
        .unwrap();
    assert!(late < 500, "status {late}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_start_one_run() {
    let dir = temp_dir("dupes");
    let up = Up::start(&UpOptions::new(&dir));
    let client = std::sync::Arc::new(up.client());
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .webhook(
                    "invoice-approval",
                    &sample("invoice-approval"),
                    Some("same-delivery"),
                )
                .await
                .unwrap()
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status == 202 || status == 200, "{status} {body}");
        ids.insert(body["run_id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "one run for ten deliveries: {ids:?}");
    let run_id = ids.into_iter().next().unwrap();
    client
        .wait_for(&run_id, WAIT, |s| s == "COMPLETED")
        .await
        .unwrap();
    assert_eq!(all_runs(&client).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_clicking_at_once_decide_once() {
    let w = WaitingRun::start("concurrent-votes", None).await;
    let links = w
        .client
        .links_when_notified(&w.run_id, 2, WAIT)
        .await
        .unwrap();
    assert_eq!(links.len(), 2, "one link per reviewer");
    let votes: Vec<_> = links
        .into_iter()
        .map(|link| {
            tokio::spawn(async move {
                handoff_local::client::decide(&link, "approve", "at once")
                    .await
                    .unwrap()
                    .0
            })
        })
        .collect();
    for v in votes {
        assert!(v.await.unwrap() < 500);
    }
    let status = w
        .client
        .wait_for(&w.run_id, WAIT, |s| s == "COMPLETED" || s == "FAILED")
        .await
        .unwrap();
    assert_eq!(status, "COMPLETED");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let replies = w
        .receiver
        .for_run(&w.run_id)
        .into_iter()
        .filter(|r| r.headers["idempotency-key"].ends_with(":reply_to_customer"))
        .count();
    assert_eq!(replies, 1, "the customer is answered once");
    let run = w.client.run(&w.run_id).await.unwrap();
    let finals = audit_kinds(&run)
        .iter()
        .filter(|k| *k == "finalize.finished")
        .count();
    assert_eq!(finals, 1);
}
