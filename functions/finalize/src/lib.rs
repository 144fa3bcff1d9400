//! The `finalize` task: the run's outcome, on the happy path and from `Catch`.

use handoff_aws::lambda::{stage_task, StageFailure};
use handoff_core::stages::finalize::{Finalize, FinalizeInput};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(
    stage: &Finalize,
    event: LambdaEvent<FinalizeInput>,
) -> Result<Value, StageFailure> {
    stage_task(stage, event).await
}
