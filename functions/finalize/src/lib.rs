//! The `finalize` task: the run's outcome, on the happy path and from `Catch`.

use handoff_aws::lambda::StageFailure;
use handoff_core::stages::finalize::{Finalize, FinalizeInput};
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tracing::Instrument;

pub async fn handle(
    stage: &Finalize,
    event: LambdaEvent<FinalizeInput>,
) -> Result<Value, StageFailure> {
    let input = event.payload;
    let span = tracing::info_span!("stage", stage = "finalize", run_id = %input.run_id, workflow = %input.workflow);
    Ok(stage.run(&input).instrument(span).await?)
}
