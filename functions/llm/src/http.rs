//! What both providers do the same way: send one JSON POST, read the body
//! under a size cap, map statuses and transport failures to [`CallError`],
//! and keep the API key out of every message.

use std::error::Error as _;
use std::future::Future;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::CallError;

/// A structured answer is a few KiB; anything past this is not one, and
/// reading it would only spend the Lambda's memory.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;
/// How much of a provider's error message a [`CallError::Server`] or
/// [`CallError::Unavailable`] keeps.
const DETAIL_CHARS: usize = 300;
/// How much of a bad answer a [`CallError::Invalid`] quotes.
pub(crate) const QUOTE_CHARS: usize = 200;

/// A provider's answer to one POST, before its status is judged.
pub(crate) struct Posted {
    pub status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
    truncated: bool,
}

impl Posted {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON body of a 2xx; every other status as the [`CallError`] the
    /// caller acts on.
    pub fn into_json(self) -> Result<Value, CallError> {
        if !(200..300).contains(&self.status) {
            return Err(status_error(self.status, self.retry_after, &self.text()));
        }
        if self.truncated {
            return Err(CallError::Invalid(format!(
                "the response is larger than {} KiB",
                MAX_BODY_BYTES / 1024
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            CallError::Invalid(format!(
                "the response is not JSON ({e}): {}",
                quote(&self.text())
            ))
        })
    }
}

/// Sends `body` as the JSON payload of `request` (headers already set) and
/// reads the answer, at most [`MAX_BODY_BYTES`] of it.
pub(crate) async fn post_json(
    request: reqwest::RequestBuilder,
    body: &Value,
    timeout: Duration,
) -> Result<Posted, CallError> {
    let failed = |e: reqwest::Error| transport_error(e, timeout);
    let mut response = request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(failed)?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let mut posted = Posted {
        status,
        retry_after,
        body: Vec::new(),
        truncated: false,
    };
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        let room = MAX_BODY_BYTES - posted.body.len();
        if chunk.len() > room {
            posted.body.extend_from_slice(&chunk[..room]);
            posted.truncated = true;
            break;
        }
        posted.body.extend_from_slice(&chunk);
    }
    tracing::debug!(status, bytes = posted.body.len(), "provider answered");
    Ok(posted)
}

/// Runs one whole call (every request and body read in it) under `timeout`,
/// then scrubs `secret` from whatever error came out.
pub(crate) async fn bounded<T>(
    timeout: Duration,
    secret: Option<&str>,
    call: impl Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    let result = tokio::time::timeout(timeout, call)
        .await
        .unwrap_or(Err(CallError::Timeout(millis(timeout))));
    result.map_err(|e| redact(e, secret))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A request that never got a status. The URL is dropped (it may carry a
/// key in its query) and headers are never part of a reqwest error.
fn transport_error(e: reqwest::Error, timeout: Duration) -> CallError {
    if e.is_timeout() {
        return CallError::Timeout(millis(timeout));
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_builder() {
        "the request could not be built"
    } else {
        "the exchange failed"
    };
    CallError::Unavailable(format!("{what}: {}", describe(e.without_url())))
}

/// reqwest's own message is generic ("error sending request"); the cause
/// (connection refused, DNS, TLS) is in its source chain.
fn describe(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// The shared status policy: 429 means wait, 5xx (Anthropic's 529 among
/// them) means the provider is struggling, any other status means this
/// request will not be served as it is.
pub(crate) fn status_error(status: u16, retry_after: Option<Duration>, body: &str) -> CallError {
    match status {
        429 => CallError::RateLimited { retry_after },
        500..=599 => CallError::Server {
            status,
            detail: detail(body),
        },
        _ => CallError::Unavailable(format!("HTTP {status}: {}", detail(body))),
    }
}

/// The provider's error message: both providers wrap it as
/// `{"error": {"type": …, "message": …}}`; anything else is quoted raw.
fn detail(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let text = match (kind, message) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (None, Some(message)) => message.to_string(),
        _ if body.trim().is_empty() => "(no body)".to_string(),
        _ => body.trim().to_string(),
    };
    cap(&text, DETAIL_CHARS)
}

/// The wait a 429 asks for: OpenAI's `retry-after-ms` when present, else
/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    header("retry-after").and_then(|v| parse_retry_after(v, now))
}

pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// At most `max_chars` characters, cut on a character boundary, with an
/// ellipsis where it was cut.
/// The reply from a provider's response body: its usage counters under
/// `usage.<input>` / `usage.<output>` (0 when absent), and the model it
/// names, else the one asked for.
pub(crate) fn reply(body: &Value, value: Value, usage: (&str, &str), asked: &str) -> crate::Reply {
    let tokens = |field: &str| {
        body.pointer(&format!("/usage/{field}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    crate::Reply {
        value,
        input_tokens: tokens(usage.0),
        output_tokens: tokens(usage.1),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or(asked)
            .to_string(),
    }
}

pub(crate) fn cap(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A bad answer as an error message quotes it.
pub(crate) fn quote(text: &str) -> String {
    format!("`{}`", cap(text.trim(), QUOTE_CHARS))
}

/// Removes the key from an error's text, for the case where a provider (or
/// a proxy in front of it) echoes it back in an error body.
fn redact(error: CallError, secret: Option<&str>) -> CallError {
    // Shorter than any real key: replacing it would mangle the message.
    let Some(secret) = secret.filter(|s| s.len() >= 8) else {
        return error;
    };
    let scrub = |text: String| text.replace(secret, "[redacted]");
    match error {
        CallError::Unavailable(m) => CallError::Unavailable(scrub(m)),
        CallError::Server { status, detail } => CallError::Server {
            status,
            detail: scrub(detail),
        },
        CallError::Refused(m) => CallError::Refused(scrub(m)),
        CallError::Invalid(m) => CallError::Invalid(scrub(m)),
        other => other,
    }
}

/// A header value for an API key, marked sensitive so reqwest never shows it
/// in its `Debug` output.
pub(crate) fn secret_header(key: &str) -> Result<reqwest::header::HeaderValue, CallError> {
    let mut value = reqwest::header::HeaderValue::from_str(key).map_err(|_| {
        CallError::Unavailable("the API key is not a valid HTTP header value".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `base` with `path` appended, before any query string (Azure's
/// `?api-version=…` stays at the end).
pub(crate) fn join(base: &str, path: &str) -> String {
    let (base, query) = match base.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (base, None),
    };
    let url = format!("{}{path}", base.trim_end_matches('/'));
    match query {
        Some(query) => format!("{url}?{query}"),
        None => url,
    }
}

/// A name the providers accept for a schema or a tool (letters, digits, `_`
/// and `-`, at most 64), made from the task's name.
pub(crate) fn wire_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "answer".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn cap_cuts_on_a_character_boundary() {
        assert_eq!(cap("héllo", 5), "héllo");
        assert_eq!(cap("héllo", 2), "hé…");
    }

    #[test]
    fn error_detail_prefers_the_providers_message() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(detail(body), "overloaded_error: Overloaded");
        assert_eq!(detail("  "), "(no body)");
        assert_eq!(detail(&"x".repeat(400)).chars().count(), DETAIL_CHARS + 1);
    }

    #[test]
    fn join_keeps_the_query_at_the_end() {
        assert_eq!(
            join("http://h/v1/", "/chat/completions"),
            "http://h/v1/chat/completions"
        );
        assert_eq!(
            join(
                "https://h/openai/deployments/d?api-version=2024-10-21",
                "/chat/completions"
            ),
            "https://h/openai/deployments/d/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn wire_names_are_what_the_providers_accept() {
        assert_eq!(wire_name("triage.ticket v2"), "triage_ticket_v2");
        assert_eq!(wire_name(""), "answer");
        assert_eq!(wire_name(&"a".repeat(100)).len(), 64);
    }

    #[test]
    fn redaction_removes_the_key_from_every_message() {
        let key = "sk-test-0123456789";
        let error = CallError::Unavailable(format!("HTTP 401: bad key {key}"));
        assert_eq!(
            redact(error, Some(key)),
            CallError::Unavailable("HTTP 401: bad key [redacted]".into())
        );
    }
}
