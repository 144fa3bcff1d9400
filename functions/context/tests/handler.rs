use handoff_core::domain::RunRef;
use handoff_core::ports::{RunData, Slot};
use handoff_core::testing::*;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};

fn event(input: RunRef) -> LambdaEvent<RunRef> {
    LambdaEvent::new(input, Context::default())
}

#[tokio::test]
async fn context_loads_plan_and_history_once() {
    let h = Harness::new();
    h.seed_sample_run("webhook-support-triage.json").await;
    let input: RunRef = sample("stage-context.json");
    let out = context::handle(&h.context(), event(input.clone()))
        .await
        .unwrap();
    assert_eq!(out["cached"], false);
    let stored = h
        .store
        .get_slot(&input.run_id, &Slot::Context)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored["plan"]["tier"], 2,
        "the sample customer is on the business plan"
    );
    assert_eq!(stored["history"]["count"], 0);
    let again = context::handle(&h.context(), event(input)).await.unwrap();
    assert_eq!(again["cached"], true);
}

#[tokio::test]
async fn unknown_workflow_is_a_validation_error_step_functions_can_catch() {
    let h = Harness::new();
    let mut input: RunRef = sample("stage-context.json");
    input.workflow = "nope".into();
    let failure = context::handle(&h.context(), event(input))
        .await
        .unwrap_err();
    let diagnostic: Diagnostic = failure.into();
    assert_eq!(diagnostic.error_type, "Handoff.ValidationError");
}
