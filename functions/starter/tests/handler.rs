use aws_lambda_events::sqs::SqsEvent;
use handoff_core::ports::Runs;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};

#[tokio::test]
async fn the_sample_message_starts_one_execution_named_by_the_run() {
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    h.store
        .transition(
            &run.run_id,
            &[handoff_core::domain::RunStatus::Running],
            handoff_core::domain::RunStatus::Received,
            handoff_core::domain::Stage::Ingest,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    for _ in 0..2 {
        let event: SqsEvent = sample("sqs-start-run.json");
        let response = starter::handle(&h.starter(), LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    let started = h.executions.started.lock().unwrap().clone();
    assert_eq!(
        started.len(),
        1,
        "redelivery must not start a second execution"
    );
    assert_eq!(started[0].0, SAMPLE_RUN_ID);
    assert_eq!(started[0].1["workflow"], "support-triage");
    let stored = h.store.get_run(&run.run_id).await.unwrap().unwrap();
    assert_eq!(stored.status.as_str(), "RUNNING");
}

#[tokio::test]
async fn a_bad_message_fails_alone_in_its_batch() {
    let h = Harness::new();
    let mut event: SqsEvent = sample("sqs-start-run.json");
    let mut bad = event.records[0].clone();
    bad.message_id = Some("bad-1".into());
    bad.body = Some("{\"not\":\"a run\"}".into());
    let mut unknown = event.records[0].clone();
    unknown.message_id = Some("unknown-run".into());
    event.records = vec![bad, unknown];
    let response = starter::handle(&h.starter(), LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec!["bad-1".to_string(), "unknown-run".to_string()]);
}
