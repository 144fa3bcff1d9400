//! `POST /webhooks/{workflow}` behind API Gateway (HTTP API, payload 2.0),
//! mail SES receives for a workflow's inbox, and, on a schedule, queueing
//! again the runs whose queue message was lost.

pub mod ses;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use handoff_aws::lambda::{http_request, http_response};
use handoff_aws::s3::S3Mailbox;
use handoff_core::stages::ingest::Ingest;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use tracing::Instrument;

/// What the schedule sends (`{"kind": "requeue_stalled"}`).
const REQUEUE_STALLED: &str = "requeue_stalled";

/// Any event this function receives: the schedule's, SES's or API
/// Gateway's.
pub async fn handle_event(
    stage: &Ingest,
    mailbox: &S3Mailbox,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if payload.get("kind").and_then(Value::as_str) == Some(REQUEUE_STALLED) {
        let span = tracing::info_span!("stage", stage = "ingest.requeue_stalled");
        let requeued = stage.requeue_stalled().instrument(span).await?;
        return Ok(json!({ "requeued": requeued }));
    }
    if payload
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        == Some("aws:ses")
    {
        let span = tracing::info_span!("stage", stage = "ingest.mail");
        let received = serde_json::from_value(payload)?;
        return ses::handle(stage, mailbox, received).instrument(span).await;
    }
    let request: ApiGatewayV2httpRequest = serde_json::from_value(payload)?;
    let response = handle(stage, LambdaEvent::new(request, context)).await?;
    Ok(serde_json::to_value(response)?)
}

pub async fn handle(
    stage: &Ingest,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let request = http_request(event.payload);
    Ok(http_response(stage.handle(&request).await))
}
