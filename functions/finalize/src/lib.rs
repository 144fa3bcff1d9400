//! The `finalize` task: the run's outcome, on the happy path and from `Catch`.

use handoff_aws::lambda::{run_stage, EmfStdout, StageFailure};
use handoff_core::stages::finalize::{Finalize, FinalizeInput};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(
    stage: &Finalize,
    event: LambdaEvent<FinalizeInput>,
) -> Result<Value, StageFailure> {
    let input = event.payload;
    let (run_id, workflow) = (input.run_id.to_string(), input.workflow.clone());
    run_stage(
        &EmfStdout,
        "finalize",
        &run_id,
        &workflow,
        stage.run(&input),
    )
    .await
}
