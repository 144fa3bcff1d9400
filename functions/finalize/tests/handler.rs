use handoff_core::domain::RunRef;
use handoff_core::ports::Runs;
use handoff_core::stages::finalize::FinalizeInput;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

/// Hands the finalize Lambda the stage sample `input_sample` for the
/// sample run; returns the harness, the run and the answer.
async fn finalized(input_sample: &str) -> (Harness, RunRef, Value) {
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    let input: FinalizeInput = sample(input_sample);
    let out = finalize::handle(&h.finalize(), LambdaEvent::new(input, Context::default()))
        .await
        .unwrap();
    (h, run, out)
}

#[tokio::test]
async fn a_finished_run_is_completed() {
    let (h, run, out) = finalized("stage-finalize.json").await;
    assert_eq!(out["status"], "COMPLETED");
    assert_eq!(
        h.store
            .get_run(&run.run_id)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str(),
        "COMPLETED"
    );
}

#[tokio::test]
async fn a_caught_failure_fails_the_run_with_its_cause() {
    let (h, run, out) = finalized("stage-finalize-failure.json").await;
    assert_eq!(out["status"], "FAILED");
    let stored = h.store.get_run(&run.run_id).await.unwrap().unwrap();
    assert!(stored
        .summary
        .error
        .unwrap()
        .starts_with("Handoff.ActionFailed"));
}
