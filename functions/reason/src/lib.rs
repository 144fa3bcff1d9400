//! The `reason` task the state machine invokes with the claim check `{run_id, workflow}`.

use handoff_aws::lambda::StageFailure;
use handoff_core::domain::RunRef;
use handoff_core::stages::reason::Reason;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::Instrument;

pub async fn handle(stage: &Reason, event: LambdaEvent<RunRef>) -> Result<Value, StageFailure> {
    let run = event.payload;
    let span = tracing::info_span!("stage", stage = "reason", run_id = %run.run_id, workflow = %run.workflow);
    Ok(stage.run(&run).instrument(span).await?)
}
