//! A state machine in moto and the waits on its executions, for the adapter
//! tests here and the whole-path run in the repository's tests/ crate. Only
//! with the `moto-tests` feature.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};

use crate::dynamo::testing::unique;

/// moto accepts any 12-digit account in ARNs.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/handoff-test";

pub async fn state_machine(config: &SdkConfig, definition: &serde_json::Value) -> String {
    aws_sdk_sfn::Client::new(config)
        .create_state_machine()
        .name(unique("workflow"))
        .definition(definition.to_string())
        .role_arn(ROLE_ARN)
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn
}

/// Names of the state machine's executions (any status).
pub async fn executions(config: &SdkConfig, state_machine: &str) -> Vec<String> {
    aws_sdk_sfn::Client::new(config)
        .list_executions()
        .state_machine_arn(state_machine)
        .send()
        .await
        .expect("list executions")
        .executions
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// An execution's ARN from its state machine's and its own name.
pub fn execution_arn(state_machine: &str, name: &str) -> String {
    let execution = state_machine.replace(":stateMachine:", ":execution:");
    format!("{execution}:{name}")
}

/// Polls until the execution leaves RUNNING; returns its final status.
pub async fn finished(config: &SdkConfig, execution_arn: &str) -> String {
    let client = aws_sdk_sfn::Client::new(config);
    within_5s(&format!("execution {execution_arn} ended"), async || {
        let status = client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .expect("describe execution")
            .status;
        (status != ExecutionStatus::Running).then(|| status.as_str().to_string())
    })
    .await
}

/// The execution's history so far, oldest first.
pub async fn history(config: &SdkConfig, execution_arn: &str) -> Vec<HistoryEvent> {
    aws_sdk_sfn::Client::new(config)
        .get_execution_history()
        .execution_arn(execution_arn)
        .send()
        .await
        .expect("history")
        .events
}

/// Asks `probe` every 50 ms until it answers, for at most five seconds.
pub async fn within_5s<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {what} within 5 s");
}
