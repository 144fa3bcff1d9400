//! The approval task: `.waitForTaskToken` requests and the timeout policy.

use handoff_aws::lambda::StageFailure;
use handoff_core::stages::approval::{ApprovalStage, ApprovalTask};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::Instrument;

pub async fn handle(
    stage: &ApprovalStage,
    event: LambdaEvent<ApprovalTask>,
) -> Result<Value, StageFailure> {
    let task = event.payload;
    let (run_id, workflow) = match &task {
        ApprovalTask::Request {
            run_id, workflow, ..
        }
        | ApprovalTask::Timeout { run_id, workflow } => (run_id.to_string(), workflow.clone()),
        ApprovalTask::RemindDue {} => (String::new(), String::new()),
    };
    let span = tracing::info_span!("stage", stage = "approval", %run_id, %workflow);
    Ok(stage.handle(&task).instrument(span).await?)
}
