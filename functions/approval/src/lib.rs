//! The approval task: `.waitForTaskToken` requests, the timeout policy and
//! the scheduled reminder scan.

use handoff_aws::lambda::{run_stage, EmfStdout, StageFailure};
use handoff_core::stages::approval::{ApprovalStage, ApprovalTask};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::Instrument;

pub async fn handle(
    stage: &ApprovalStage,
    event: LambdaEvent<ApprovalTask>,
) -> Result<Value, StageFailure> {
    let task = event.payload;
    match &task {
        ApprovalTask::Request {
            run_id, workflow, ..
        }
        | ApprovalTask::Timeout { run_id, workflow } => {
            let run_id = run_id.to_string();
            run_stage(
                &EmfStdout,
                "approval",
                &run_id,
                workflow,
                stage.handle(&task),
            )
            .await
        }
        // Not one run's task: a span of its own, no per-workflow metrics.
        ApprovalTask::RemindDue {} => {
            let span = tracing::info_span!("stage", stage = "approval.remind_due");
            Ok(stage.handle(&task).instrument(span).await?)
        }
    }
}
