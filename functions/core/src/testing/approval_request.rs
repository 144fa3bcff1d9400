//! The approval stage asked for an approval as the state machine asks it.

use serde_json::Value;

use handoff_core::domain::RunId;
use handoff_core::stages::approval::ApprovalTask;
use handoff_core::stages::StageError;

use super::Harness;

impl Harness {
    /// Runs the approval stage's request for `run`, whose waiting task is
    /// `task_token`.
    pub async fn request_approval(
        &self,
        run: &RunId,
        workflow: &str,
        escalation: bool,
        task_token: &str,
    ) -> Result<Value, StageError> {
        self.approval()
            .run(&ApprovalTask::Request {
                run_id: run.clone(),
                workflow: workflow.into(),
                escalation,
                task_token: task_token.into(),
            })
            .await
    }
}
