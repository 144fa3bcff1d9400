//! The intake queue's consumer: one execution per run message, with partial
//! batch failures so one bad message does not redeliver the whole batch.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use handoff_core::stages::starter::Starter;
use lambda_runtime::{Error, LambdaEvent};

pub async fn handle(
    stage: &Starter,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let messages: Vec<(String, String)> = event
        .payload
        .records
        .into_iter()
        .map(|r| (r.message_id.unwrap_or_default(), r.body.unwrap_or_default()))
        .collect();
    let mut response = SqsBatchResponse::default();
    for id in stage.start_batch(&messages).await {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}
