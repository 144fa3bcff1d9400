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
    let arn = format!(
        "{}:{}",
        machine.replace(":stateMachine:", ":execution:"),
        run
    );
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
                // Without it there is nothing to heartbeat (InvalidToken).
                "HeartbeatSeconds": 60,
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
    // moto arms the heartbeat just after it sends the message: retry briefly.
    let mut beat = engine.send_task_heartbeat(&token).await;
    for _ in 0..40 {
        if beat.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        beat = engine.send_task_heartbeat(&token).await;
    }
    beat.expect("a heartbeat for a waiting task");
    engine
        .send_task_success(&token, &json!({ "decision": "approve" }))
        .await
        .unwrap();
    let arn = format!(
        "{}:{}",
        machine.replace(":stateMachine:", ":execution:"),
        run
    );
    assert_eq!(finished(&config, &arn).await, "SUCCEEDED");

    let again = engine
        .send_task_success(&token, &json!({ "decision": "reject" }))
        .await;
    assert!(
        matches!(again, Err(ExecutionError::TaskClosed(_))),
        "{again:?}"
    );
    // moto accepts a failure for a finished execution's token (AWS does
    // not), so the failure path is pinned with a token it never issued.
    let failure = engine
        .send_task_failure(&"never-issued".into(), "Handoff.Rejected", "late")
        .await;
    assert!(
        matches!(failure, Err(ExecutionError::TaskClosed(_))),
        "{failure:?}"
    );
    let unknown = engine.send_task_heartbeat(&"not-a-token".into()).await;
    assert!(
        matches!(unknown, Err(ExecutionError::TaskClosed(_))),
        "{unknown:?}"
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
