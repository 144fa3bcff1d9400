//! What every Lambda `main.rs` shares: logging, configuration, and the
//! conversions between API Gateway events, stage errors and the core types.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use handoff_core::http::{HttpRequest, HttpResponse};
use handoff_core::stages::StageError;
use lambda_runtime::Diagnostic;

/// JSON lines without ANSI colours or timestamps (CloudWatch stamps each
/// line); the filter comes from `RUST_LOG`, `info` when unset. Safe to call
/// twice: the second call keeps the first subscriber.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable `{name}` is not set or empty; the function's template entry must define it")]
pub struct EnvError {
    pub name: String,
}

/// A required environment variable (an empty value counts as missing).
pub fn env(name: &str) -> Result<String, EnvError> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(EnvError {
            name: name.to_string(),
        }),
    }
}

/// The SDK configuration from the Lambda environment, loaded once per
/// process and shared by every client built from it.
#[cfg(feature = "config")]
pub async fn aws_config() -> aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    CONFIG
        .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
        .await
        .clone()
}

/// A stage error on its way to Step Functions. The handler returns
/// `Result<_, StageFailure>`; the runtime reports `error_type` =
/// [`StageError::name`] (`Handoff.ValidationError`, …), which is what the
/// state machine's Retry and Catch match on.
#[derive(Debug)]
pub struct StageFailure(pub StageError);

impl From<StageError> for StageFailure {
    fn from(error: StageError) -> Self {
        Self(error)
    }
}

impl std::fmt::Display for StageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<StageFailure> for Diagnostic {
    fn from(failure: StageFailure) -> Self {
        Diagnostic {
            error_type: failure.0.name().to_string(),
            error_message: failure.0.to_string(),
        }
    }
}

/// The core request from an HTTP API (payload 2.0) event. Cookies are not
/// read: no route uses them. A body flagged base64 that does not decode is
/// passed through as sent, so the route rejects it as any bad input.
pub fn http_request(event: ApiGatewayV2httpRequest) -> HttpRequest {
    let method = event.request_context.http.method.as_str().to_string();
    let path = event
        .raw_path
        .clone()
        .or_else(|| event.request_context.http.path.clone())
        .unwrap_or_else(|| "/".to_string());
    let query = event
        .query_string_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in event.headers.iter() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let body = match event.body {
        None => Vec::new(),
        Some(text) if event.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .unwrap_or_else(|_| text.into_bytes()),
        Some(text) => text.into_bytes(),
    };
    HttpRequest {
        method,
        path,
        path_params: event.path_parameters.into_iter().collect(),
        query,
        raw_query: event.raw_query_string.unwrap_or_default(),
        headers,
        body,
    }
}

/// The HTTP API response for a core response: text bodies as they are,
/// anything else base64 with `isBase64Encoded`. `set-cookie` headers go to
/// `cookies` (payload 2.0 has no repeated headers); other repeats are joined.
pub fn http_response(response: HttpResponse) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    let mut cookies = Vec::new();
    for (name, value) in response.headers {
        if name.eq_ignore_ascii_case("set-cookie") {
            cookies.push(value);
            continue;
        }
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            tracing::warn!(header = %name, "dropping a response header that is not valid HTTP");
            continue;
        };
        let joined = match headers.get(&name) {
            Some(existing) => {
                let mut bytes = existing.as_bytes().to_vec();
                bytes.extend_from_slice(b", ");
                bytes.extend_from_slice(value.as_bytes());
                HeaderValue::from_bytes(&bytes).unwrap_or(value)
            }
            None => value,
        };
        headers.insert(name, joined);
    }
    let (body, is_base64_encoded) = if response.body.is_empty() {
        (None, false)
    } else {
        match String::from_utf8(response.body) {
            Ok(text) => (Some(Body::Text(text)), false),
            Err(e) => (Some(Body::Binary(e.into_bytes())), true),
        }
    };
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(response.status);
    out.headers = headers;
    out.body = body;
    out.is_base64_encoded = is_base64_encoded;
    out.cookies = cookies;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::ports::StoreError;

    fn event(body: &str, base64: bool) -> ApiGatewayV2httpRequest {
        serde_json::from_value(serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /webhooks/{workflow}",
            "rawPath": "/webhooks/support-triage",
            "rawQueryString": "a=1&b=two",
            "cookies": ["session=x"],
            "headers": { "Content-Type": "application/json", "x-signature": "abc" },
            "queryStringParameters": { "a": "1", "b": "two" },
            "pathParameters": { "workflow": "support-triage" },
            "requestContext": {
                "http": { "method": "POST", "path": "/webhooks/support-triage" },
                "timeEpoch": 0
            },
            "body": body,
            "isBase64Encoded": base64
        }))
        .expect("a valid HTTP API event")
    }

    #[test]
    fn request_carries_method_path_params_query_and_headers() {
        let req = http_request(event("{\"x\":1}", false));
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/webhooks/support-triage");
        assert_eq!(req.path_params["workflow"], "support-triage");
        assert_eq!(req.query["b"], "two");
        assert_eq!(req.raw_query, "a=1&b=two");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.headers.get("cookie"), None);
        assert_eq!(req.body, b"{\"x\":1}");
    }

    #[test]
    fn base64_body_is_decoded_to_raw_bytes() {
        let raw = [0u8, 159, 146, 150, b'a'];
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        let req = http_request(event(&encoded, true));
        assert_eq!(req.body, raw);
    }

    #[test]
    fn text_response_stays_text() {
        let out = http_response(HttpResponse::json(201, &serde_json::json!({ "ok": true })));
        assert_eq!(out.status_code, 201);
        assert!(!out.is_base64_encoded);
        assert_eq!(out.headers["content-type"], "application/json");
        assert_eq!(out.body, Some(Body::Text("{\"ok\":true}".into())));
    }

    #[test]
    fn binary_response_is_base64_encoded() {
        let out = http_response(HttpResponse {
            status: 200,
            headers: vec![
                ("Set-Cookie".into(), "a=1".into()),
                ("x-a".into(), "1".into()),
                ("x-a".into(), "2".into()),
            ],
            body: vec![0xff, 0xfe, 0x00],
        });
        assert!(out.is_base64_encoded);
        assert_eq!(out.cookies, vec!["a=1".to_string()]);
        assert_eq!(out.headers["x-a"], "1, 2");
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["body"], "//4A");
        assert_eq!(json["isBase64Encoded"], true);
    }

    #[test]
    fn stage_error_reaches_step_functions_by_its_name() {
        let d: Diagnostic = StageFailure::from(StageError::Invalid("bad".into())).into();
        assert_eq!(d.error_type, "Handoff.ValidationError");
        assert_eq!(d.error_message, "bad");
        let d: Diagnostic =
            StageFailure(StageError::Store(StoreError::Conflict("x".into()))).into();
        assert_eq!(d.error_type, "Handoff.Conflict");
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = env("HANDOFF_TEST_SURELY_UNSET").unwrap_err();
        assert!(err.to_string().contains("HANDOFF_TEST_SURELY_UNSET"));
    }
}
