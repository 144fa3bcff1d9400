//! `GET` and `POST /approvals/{id}`: the approval page (never decides) and
//! the decision; and, on a schedule, the redelivery of decisions the waiting
//! task has not taken yet.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use handoff_aws::lambda::{http_request, http_response};
use handoff_core::stages::callback::Callback;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};
use tracing::Instrument;

/// What the schedule sends (`{"kind": "redeliver_due"}`).
const REDELIVER_DUE: &str = "redeliver_due";

/// Either event this function receives: the schedule's or API Gateway's.
pub async fn handle_event(stage: &Callback, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if payload.get("kind").and_then(Value::as_str) == Some(REDELIVER_DUE) {
        let span = tracing::info_span!("stage", stage = "callback.redeliver_due");
        let sweep = stage.redeliver_due().instrument(span).await?;
        return Ok(json!({
            "delivered": sweep.delivered,
            "closed": sweep.closed,
            "owed": sweep.owed,
        }));
    }
    let request: ApiGatewayV2httpRequest = serde_json::from_value(payload)?;
    let response = handle(stage, LambdaEvent::new(request, context)).await?;
    Ok(serde_json::to_value(response)?)
}

pub async fn handle(
    stage: &Callback,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let request = http_request(event.payload);
    Ok(http_response(stage.handle(&request).await))
}
