//! What every Lambda `main.rs` shares: logging, configuration, and the
//! conversions between API Gateway events, stage errors and the core types.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use handoff_core::http::{HttpRequest, HttpResponse};
use handoff_core::observe::emf::MetricDoc;
use handoff_core::ports::Metrics;
use handoff_core::stages::shell::{self, StageTask};
use handoff_core::stages::StageError;
use lambda_runtime::Diagnostic;

/// JSON lines without ANSI colours or timestamps (CloudWatch stamps each
/// line); the filter comes from `RUST_LOG`, `info` when unset. Safe to call
/// twice: the second call keeps the first subscriber.
pub fn init_tracing() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing::subscriber::set_global_default(json_subscriber(&filter, std::io::stdout));
}

/// The Lambda log format: one JSON object a line, carrying the enclosing
/// stage span's fields (`run_id`, `workflow`, `stage`, `execution`) under
/// `span`; `filter` is an `EnvFilter` directive (an invalid one means
/// `info`). Public so tests can point it at a buffer.
pub fn json_subscriber<W>(filter: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// Prints each metric document as one EMF line on stdout, which Lambda
/// ships to CloudWatch Logs, where it becomes metrics.
pub struct EmfStdout;

impl Metrics for EmfStdout {
    fn emit(&self, doc: MetricDoc) {
        use std::io::Write as _;
        let line = doc.to_line(chrono::Utc::now().timestamp_millis());
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
}

/// Kept back from the Lambda's deadline to record what a stage did.
pub const RECORD_MARGIN: Duration = Duration::from_secs(3);

/// A stage task as Lambda invokes it: the core shell
/// ([`handoff_core::stages::shell`]) with metrics on stdout and the
/// invocation's deadline.
pub async fn stage_task<S: StageTask>(
    stage: &S,
    event: lambda_runtime::LambdaEvent<S::Input>,
) -> Result<serde_json::Value, StageFailure> {
    let deadline = work_deadline(&event.context, RECORD_MARGIN);
    shell::run_task(&EmfStdout, stage, &event.payload, deadline)
        .await
        .map_err(StageFailure)
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

/// When an invocation must be done with its work: `margin` before the
/// Lambda's deadline, which is kept back to record what happened.
/// `None` for a context that names no deadline (a test's).
pub fn work_deadline(context: &lambda_runtime::Context, margin: Duration) -> Option<Instant> {
    if context.deadline == 0 {
        return None;
    }
    let left = context
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Some(Instant::now() + left.saturating_sub(margin))
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
    // Payload 2.0 moves `Cookie` out of the headers into `cookies`.
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty()) {
        headers.insert("cookie".into(), cookies.join("; "));
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
    use handoff_core::domain::{RunId, RunRef, Stage};
    use handoff_core::ports::StoreError;

    #[test]
    fn the_work_deadline_keeps_the_margin_back_and_never_lies_in_the_past() {
        let mut context = lambda_runtime::Context::default();
        let in_ms = |d: Duration| (SystemTime::now() + d).duration_since(SystemTime::UNIX_EPOCH);
        context.deadline = in_ms(Duration::from_secs(60)).unwrap().as_millis() as u64;
        let left = work_deadline(&context, Duration::from_secs(5)).unwrap() - Instant::now();
        assert!(
            left <= Duration::from_secs(55) && left > Duration::from_secs(50),
            "{left:?}"
        );

        context.deadline = in_ms(Duration::from_secs(2)).unwrap().as_millis() as u64;
        let left = work_deadline(&context, Duration::from_secs(5))
            .unwrap()
            .saturating_duration_since(Instant::now());
        assert_eq!(left, Duration::ZERO);
        assert_eq!(work_deadline(&Default::default(), Duration::ZERO), None);
    }

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
        assert_eq!(req.header("cookie"), Some("session=x"));
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

    /// Decide as a scripted task: logs one line, then fails.
    struct FailingDecide;

    #[async_trait::async_trait]
    impl StageTask for FailingDecide {
        type Input = RunRef;
        const STAGE: Stage = Stage::Decide;
        fn run_of(input: &RunRef) -> Option<RunRef> {
            Some(input.clone())
        }
        async fn invoke(
            &self,
            _: &RunRef,
            _: Option<Instant>,
        ) -> Result<serde_json::Value, StageError> {
            tracing::info!(rule = "large-refund", "rule matched");
            Err(StageError::Invalid("no AI result".into()))
        }
    }

    fn task(run_id: &str, workflow: &str) -> lambda_runtime::LambdaEvent<RunRef> {
        let input = RunRef {
            run_id: RunId(run_id.into()),
            workflow: workflow.into(),
        };
        lambda_runtime::LambdaEvent::new(input, Default::default())
    }

    #[tokio::test]
    async fn every_line_of_a_stage_names_its_run_workflow_stage_and_execution() {
        let lines = handoff_core::testing::LogLines::default();
        let writer = lines.clone();
        let _guard =
            tracing::subscriber::set_default(json_subscriber("info", move || writer.clone()));
        let out = stage_task(&FailingDecide, task("run-1", "support-triage")).await;
        assert_eq!(out.unwrap_err().0.name(), "Handoff.ValidationError");

        let logged = lines.json();
        assert_eq!(logged.len(), 2, "{logged:?}");
        assert_eq!(logged[0]["message"], "rule matched");
        assert_eq!(logged[0]["rule"], "large-refund");
        assert_eq!(logged[1]["error"], "Handoff.ValidationError");
        for line in &logged {
            let span = &line["span"];
            assert_eq!(span["run_id"], "run-1", "{line}");
            assert_eq!(span["workflow"], "support-triage", "{line}");
            assert_eq!(span["stage"], "decide", "{line}");
            assert_eq!(span["execution"], "run-1", "{line}");
        }
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = env("HANDOFF_TEST_SURELY_UNSET").unwrap_err();
        assert!(err.to_string().contains("HANDOFF_TEST_SURELY_UNSET"));
    }
}
