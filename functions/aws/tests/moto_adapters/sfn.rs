//! Step Functions: one execution per run name, and the task-token callbacks
//! against an execution that really waits (moto runs the state machine).

use std::time::Duration;

use handoff_aws::sfn::StepFunctions;
use handoff_core::domain::{RunId, TaskToken};
use handoff_core::ports::{ExecutionError, Executions, Started};
use serde_json::json;

use crate::support::*;

fn pass_machine() -> serde_json::Value {
    json!({ "StartAt": "Done", "States": { "Done": { "Type": "Pass", "End": true } } })
}

#[tokio::test]
async fn a_duplicate_start_is_one_execution() {
    let config = sdk_config().await;
    let machine = state_machine(&config, &pass_machine()).await;
    let engine = StepFunctions::new(aws_sdk_sfn::Client::new(&config), &machine);
    let run = RunId::new();
    let input = json!({ "run_id": run, "workflow": "support-triage" });

    assert_eq!(
        engine.start(run.as_str(), &input).await.unwrap(),
        Started::New
    );
    let arn = execution_arn(&machine, run.as_str());
    assert_eq!(finished(&config, &arn).await, "SUCCEEDED");
    assert_eq!(
        engine.start(run.as_str(), &input).await.unwrap(),
        Started::AlreadyStarted
    );
    assert_eq!(executions(&config, &machine).await, [run.to_string()]);
}

/// A state that hands its task token to a queue and waits for the answer,
/// as the approval stage does through its Lambda.
fn waiting_machine(queue_url: &str) -> serde_json::Value {
    json!({
        "StartAt": "WaitForApproval",
        "States": {
            "WaitForApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": { "token.$": "$$.Task.Token" }
                },
                "End": true
            }
        }
    })
}

#[tokio::test]
async fn answering_a_closed_task_is_the_domain_error() {
    let config = sdk_config().await;
    let queue_url = queue(&config, 30).await;
    let machine = state_machine(&config, &waiting_machine(&queue_url)).await;
    let engine = StepFunctions::new(aws_sdk_sfn::Client::new(&config), &machine);
    let run = RunId::new();
    engine
        .start(run.as_str(), &json!({ "run_id": run }))
        .await
        .unwrap();

    let token = TaskToken::new(receive_token(&config, &queue_url).await);
    // moto may arm the token a moment after it sends the message: retry briefly.
    let approve = json!({ "decision": "approve" });
    let mut answered = engine.send_task_success(&token, &approve).await;
    for _ in 0..40 {
        if answered.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answered = engine.send_task_success(&token, &approve).await;
    }
    answered.expect("the waiting task takes its answer");
    let arn = execution_arn(&machine, run.as_str());
    assert_eq!(finished(&config, &arn).await, "SUCCEEDED");

    let again = engine
        .send_task_success(&token, &json!({ "decision": "reject" }))
        .await;
    assert!(
        matches!(again, Err(ExecutionError::TaskClosed(_))),
        "{again:?}"
    );
}

async fn receive_token(config: &aws_config::SdkConfig, queue_url: &str) -> String {
    let sqs = aws_sdk_sqs::Client::new(config);
    for _ in 0..50 {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        if let Some(message) = out.messages.unwrap_or_default().into_iter().next() {
            let body: serde_json::Value =
                serde_json::from_str(message.body().expect("body")).expect("json body");
            return body["token"].as_str().expect("token").to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the execution sent no task token");
}
