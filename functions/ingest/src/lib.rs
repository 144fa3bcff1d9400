//! `POST /webhooks/{workflow}` behind API Gateway (HTTP API, payload 2.0).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use handoff_aws::lambda::{http_request, http_response};
use handoff_core::stages::ingest::Ingest;
use lambda_runtime::{Error, LambdaEvent};

pub async fn handle(
    stage: &Ingest,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let request = http_request(event.payload);
    Ok(http_response(stage.handle(&request).await))
}
