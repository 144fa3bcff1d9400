use handoff_core::domain::RunRef;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};

#[tokio::test]
async fn a_large_refund_goes_to_billing_with_approval() {
    let h = Harness::new();
    let run = h.seed_reasoned_run("webhook-support-triage.json").await;
    let input: RunRef = sample("stage-decide.json");
    let flags = decide::handle(&h.decide(), LambdaEvent::new(input, Context::default()))
        .await
        .unwrap();
    assert_eq!(flags["needs_approval"], true);
    assert_eq!(flags["approval_timeout_seconds"], 14400);
    let decision = h.stored_decision(&run.run_id).await;
    assert_eq!(decision.rule.as_deref(), Some("large-refund"));
    assert_eq!(decision.actions, vec!["reply_to_customer", "update_ticket"]);
}
