use handoff_core::domain::RunRef;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};

#[tokio::test]
async fn the_sample_ticket_is_a_refund_with_its_amount_and_a_draft() {
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    h.context().run(&run).await.unwrap();
    let input: RunRef = sample("stage-reason.json");
    let out = reason::handle(&h.reason(), LambdaEvent::new(input, Context::default()))
        .await
        .unwrap();
    assert_eq!(out["label"], "refund_request");
    let confidence = out["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence));
    let ai = h.stored_ai(&run.run_id).await;
    assert_eq!(ai.outputs["details"]["order_id"], "ORD-55120");
    assert_eq!(ai.outputs["issue_type"]["tier"], "embedded");
    // No LLM here: the summary is extractive and the reply is the template.
    assert_eq!(ai.outputs["summary"]["extractive"], true);
    assert_eq!(ai.outputs["reply"]["tier"], "template");
    assert!(ai
        .text("reply")
        .unwrap()
        .contains("refund request for order ORD-55120"));
}
