//! The read side: `GET /`, `GET /runs`, `GET /runs/{id}`, `POST /runs/{id}/feedback`.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use handoff_aws::lambda::{http_request, http_response};
use handoff_core::stages::read::ReadApi;
use lambda_runtime::{Error, LambdaEvent};

pub async fn handle(
    stage: &ReadApi,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let request = http_request(event.payload);
    Ok(http_response(stage.handle(&request).await))
}
