use handoff_core::stages::approval::ApprovalTask;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

/// Hands the approval Lambda the stage sample `task_sample`.
async fn handle(h: &Harness, task_sample: &str) -> Value {
    let task: ApprovalTask = sample(task_sample);
    approval::handle(&h.approval(), LambdaEvent::new(task, Context::default()))
        .await
        .unwrap()
}

/// The sample refund run, decided, with its approval requested; returns
/// what the request answered.
async fn refund_awaiting_approval(h: &Harness) -> Value {
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    h.context().run(&run).await.unwrap();
    h.reason().run(&run).await.unwrap();
    h.decide().run(&run).await.unwrap();
    handle(h, "stage-approval-request.json").await
}

#[tokio::test]
async fn the_request_sample_sends_each_reviewer_a_signed_link() {
    let h = Harness::new();
    let out = refund_awaiting_approval(&h).await;
    assert_eq!(out["reviewers"], 2);
    let sent = h.notifier.sent.lock().unwrap().clone();
    let to: Vec<&str> = sent.iter().map(|n| n.reviewer.as_str()).collect();
    assert_eq!(
        to,
        ["lead@support.example.com", "billing@support.example.com"]
    );
    for n in &sent {
        assert!(
            n.link.starts_with(&format!("{PUBLIC_URL}/approvals/")),
            "{}",
            n.link
        );
        assert!(n.link.contains("&sig="));
        assert!(
            !n.text.contains("SampleTaskToken"),
            "the task token never leaves the server"
        );
    }
}

#[tokio::test]
async fn the_timeout_sample_escalates_per_the_support_spec() {
    let h = Harness::new();
    refund_awaiting_approval(&h).await;
    h.clock.advance(14_400);
    let out = handle(&h, "stage-approval-timeout.json").await;
    assert_eq!(out["decision"], "escalate");
    assert_eq!(out["timeout_seconds"], 7200);
}

#[tokio::test]
async fn the_scheduled_reminder_scan_sample_reaches_the_stage() {
    let h = Harness::new();
    refund_awaiting_approval(&h).await;
    let notified = h.notifier.sent.lock().unwrap().len();
    let out = handle(&h, "stage-approval-remind-due.json").await;
    // support-triage sets no reminder, so the scan finds nothing due.
    assert_eq!(out["reminded"], 0);
    assert_eq!(h.notifier.sent.lock().unwrap().len(), notified);
}
