//! The read side: `GET /`, `GET /runs`, `GET /runs/{id}`, feedback, redrive
//! and sign-in. The same function is the HttpApi's Lambda authorizer for
//! the routes that show run data: API Gateway calls it with a `REQUEST`
//! authorizer event before it routes the request.

use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
    ApiGatewayV2httpRequest,
};
use handoff_aws::lambda::{http_request, http_response};
use handoff_core::http::{ApiError, HttpRequest};
use handoff_core::stages::read::ReadApi;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{json, Value};

pub async fn handle(stage: &ReadApi, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    if is_authorizer_event(&payload) {
        let request: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(payload)?;
        return Ok(serde_json::to_value(authorize(stage, request).await)?);
    }
    let request: ApiGatewayV2httpRequest = serde_json::from_value(payload)?;
    let response = http_response(stage.handle(&http_request(request)).await);
    Ok(serde_json::to_value(response)?)
}

/// A payload-2.0 authorizer event: `type: REQUEST` with the route's ARN.
fn is_authorizer_event(payload: &Value) -> bool {
    payload["type"] == "REQUEST" && payload.get("routeArn").is_some()
}

pub async fn authorize(
    stage: &ReadApi,
    event: ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse {
    let context = &event.request_context;
    let mut headers: std::collections::BTreeMap<String, String> = event
        .headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    if !event.cookies.is_empty() {
        headers.insert("cookie".into(), event.cookies.join("; "));
    }
    let request = HttpRequest {
        method: context.http.method.to_string(),
        path: context
            .http
            .path
            .clone()
            .or(event.raw_path.clone())
            .unwrap_or_default(),
        path_params: event.path_parameters.clone().into_iter().collect(),
        query: event.query_string_parameters.clone().into_iter().collect(),
        raw_query: event.raw_query_string.clone().unwrap_or_default(),
        headers,
        body: Vec::new(),
    };
    let verdict = stage.authorize(&request).await;
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    match verdict {
        Ok(claims) => {
            response.is_authorized = true;
            response.context = json!({ "reviewer": claims.sub, "token_id": claims.jti });
        }
        Err(refusal) => {
            tracing::info!(
                status = refusal.status(),
                error = refusal.code(),
                "authorizer refused a request"
            );
            response.context = json!({});
        }
    }
    response
}
