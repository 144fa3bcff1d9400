//! The `context` task the state machine invokes with the claim check `{run_id, workflow}`.

use handoff_aws::lambda::{stage_task, StageFailure};
use handoff_core::domain::RunRef;
use handoff_core::stages::context::LoadContext;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(
    stage: &LoadContext,
    event: LambdaEvent<RunRef>,
) -> Result<Value, StageFailure> {
    stage_task(stage, event).await
}
