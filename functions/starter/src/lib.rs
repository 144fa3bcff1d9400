//! The intake queue's consumer: one execution per run message, with partial
//! batch failures so one bad message does not redeliver the whole batch.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use handoff_core::domain::RunMessage;
use handoff_core::stages::starter::Starter;
use lambda_runtime::{Error, LambdaEvent};
use tracing::{error, Instrument};

pub async fn handle(
    stage: &Starter,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let message: Result<RunMessage, _> =
            serde_json::from_str(record.body.as_deref().unwrap_or(""));
        let outcome = match message {
            Ok(message) => {
                let span = tracing::info_span!("stage", stage = "start", run_id = %message.run_id, workflow = %message.workflow, execution = %message.run_id);
                stage
                    .start(&message)
                    .instrument(span)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("not a run message: {e}")),
        };
        if let Err(reason) = outcome {
            error!(message_id = %id, %reason, "run not started; SQS will redeliver");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}
