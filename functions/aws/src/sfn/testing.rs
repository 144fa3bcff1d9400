//! A state machine in moto and the waits on its executions, for the adapter
//! tests here and the whole-path run in the repository's tests/ crate. Only
//! with the `moto-tests` feature.

use std::time::Duration;

use aws_config::SdkConfig;

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

/// Polls until the execution leaves RUNNING; returns its final status.
pub async fn finished(config: &SdkConfig, execution_arn: &str) -> String {
    let client = aws_sdk_sfn::Client::new(config);
    for _ in 0..100 {
        let status = client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .expect("describe execution")
            .status;
        if status != aws_sdk_sfn::types::ExecutionStatus::Running {
            return status.as_str().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {execution_arn} still running after 5 s");
}
