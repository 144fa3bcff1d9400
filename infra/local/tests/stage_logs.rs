//! `handoff up` and a Lambda log a stage's lines with the same span
//! fields: both run it in the core's stage shell.

use std::collections::HashMap;

use handoff_core::domain::{RunRef, Stage};
use handoff_core::testing::*;
use handoff_local::runtime::TaskStages;
use handoff_states::TaskRequest;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// The `span` object of every line `work` logs, in the Lambda JSON format.
async fn spans_of<F: std::future::Future>(work: F) -> Vec<Value> {
    let lines = LogLines::default();
    let writer = lines.clone();
    let subscriber = handoff_aws::lambda::json_subscriber("info", move || writer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    work.await;
    lines.json().iter().map(|l| l["span"].clone()).collect()
}

fn tasks(h: &Harness) -> TaskStages {
    TaskStages {
        context: h.context(),
        reason: h.reason(),
        decide: h.decide(),
        approval: h.approval(),
        act: h.act(),
        finalize: h.finalize(),
        functions: HashMap::from([("fn:decide".to_string(), Stage::Decide)]),
    }
}

#[tokio::test]
async fn a_stage_logs_the_same_span_fields_locally_and_on_lambda() {
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    h.context().run(&run).await.unwrap();
    // Without the reason stage's output, decide fails and says why: one
    // warning line from each side.
    let lambda = spans_of(decide::handle(
        &h.decide(),
        LambdaEvent::new(run.clone(), Context::default()),
    ))
    .await;
    let local_tasks = tasks(&h);
    let request = TaskRequest {
        id: 1,
        state: "Decide".into(),
        resource: "arn:aws:states:::lambda:invoke".into(),
        payload: json!({ "FunctionName": "fn:decide", "Payload": run }),
        token: None,
    };
    let local = spans_of(local_tasks.invoke(&request)).await;

    assert!(!lambda.is_empty(), "the Lambda logged nothing");
    assert_eq!(local, lambda);
    let RunRef { run_id, workflow } = &run;
    for span in &local {
        assert_eq!(span["name"], "stage", "{span}");
        assert_eq!(span["stage"], "decide", "{span}");
        assert_eq!(span["run_id"], run_id.as_str(), "{span}");
        assert_eq!(span["workflow"], workflow.as_str(), "{span}");
        assert_eq!(span["execution"], run_id.as_str(), "{span}");
    }
}
