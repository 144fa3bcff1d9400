//! The approval task: `.waitForTaskToken` requests, the timeout policy and
//! the scheduled reminder scan.

use handoff_aws::lambda::{stage_task, StageFailure};
use handoff_core::stages::approval::{ApprovalTask, ApprovalTasks};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(
    stage: &ApprovalTasks,
    event: LambdaEvent<ApprovalTask>,
) -> Result<Value, StageFailure> {
    stage_task(stage, event).await
}
