//! The `decide` task the state machine invokes with the claim check `{run_id, workflow}`.

use handoff_aws::lambda::{stage_task, StageFailure};
use handoff_core::domain::RunRef;
use handoff_core::stages::decide::Decide;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(stage: &Decide, event: LambdaEvent<RunRef>) -> Result<Value, StageFailure> {
    stage_task(stage, event).await
}
