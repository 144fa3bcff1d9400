use handoff_core::ports::Runs;
use handoff_core::stages::finalize::FinalizeInput;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};

#[tokio::test]
async fn a_finished_run_is_completed() {
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    let input: FinalizeInput = sample("stage-finalize.json");
    let out = finalize::handle(&h.finalize(), LambdaEvent::new(input, Context::default()))
        .await
        .unwrap();
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
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    let input: FinalizeInput = sample("stage-finalize-failure.json");
    let out = finalize::handle(&h.finalize(), LambdaEvent::new(input, Context::default()))
        .await
        .unwrap();
    assert_eq!(out["status"], "FAILED");
    let stored = h.store.get_run(&run.run_id).await.unwrap().unwrap();
    assert!(stored
        .summary
        .error
        .unwrap()
        .starts_with("Handoff.ActionFailed"));
}
