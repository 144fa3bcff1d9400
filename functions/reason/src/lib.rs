//! The `reason` task the state machine invokes with the claim check `{run_id, workflow}`.

use handoff_aws::lambda::{run_stage, EmfStdout, StageFailure};
use handoff_core::domain::RunRef;
use handoff_core::stages::reason::Reason;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(stage: &Reason, event: LambdaEvent<RunRef>) -> Result<Value, StageFailure> {
    let run = event.payload;
    let (run_id, workflow) = (run.run_id.to_string(), run.workflow.clone());
    run_stage(&EmfStdout, "reason", &run_id, &workflow, stage.run(&run)).await
}
