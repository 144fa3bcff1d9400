//! Anthropic's Messages API. It has no JSON-schema response format; a tool
//! whose input schema is the answer's, forced with `tool_choice`, is the
//! supported way to get an object back.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::attachment::base64;
use crate::http::{self, quote};
use crate::{Attachment, Call, CallError, Provider, Reply, Role};

const API_VERSION: &str = "2023-06-01";

/// Claude through Anthropic's own API (or a gateway that speaks it).
///
/// The answer is the input of the one forced tool call, so it is always an
/// object the API has already parsed: what can go wrong is a refusal, text
/// instead of the call, or the transport. Construct with
/// [`Anthropic::new`]; `Debug` never shows the key.
#[derive(Clone)]
pub struct Anthropic {
    /// The base URL without the version, e.g. [`Anthropic::DEFAULT_ENDPOINT`];
    /// `/v1/messages` is appended.
    pub endpoint: String,
    pub model: String,
    /// Sent as `x-api-key`.
    pub api_key: String,
    /// The bound on one whole call, reading the body included.
    pub timeout: Duration,
    /// Shared so that calls reuse connections.
    pub client: reqwest::Client,
}

impl Anthropic {
    pub const DEFAULT_ENDPOINT: &'static str = "https://api.anthropic.com";

    /// The public endpoint, a 60 s timeout and a new client.
    pub fn new(model: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            endpoint: Self::DEFAULT_ENDPOINT.to_string(),
            model: model.into(),
            api_key: api_key.into(),
            timeout: Duration::from_secs(60),
            client: reqwest::Client::new(),
        }
    }

    async fn exchange(&self, call: &Call<'_>) -> Result<Reply, CallError> {
        let request = self
            .client
            .post(http::join(&self.endpoint, "/v1/messages"))
            .header("x-api-key", http::secret_header(&self.api_key)?)
            .header("anthropic-version", API_VERSION);
        let body = request_body(&self.model, call);
        let posted = http::post_json(request, &body, self.timeout).await?;
        parse_reply(&posted.into_json()?, &self.model, call)
    }
}

impl fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anthropic")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("api_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Provider for Anthropic {
    async fn call(&self, call: &Call<'_>) -> Result<Reply, CallError> {
        http::bounded(self.timeout, Some(&self.api_key), self.exchange(call)).await
    }
}

fn request_body(model: &str, call: &Call<'_>) -> Value {
    let first_user = call.turns.iter().position(|(role, _)| *role == Role::User);
    let messages: Vec<Value> = call
        .turns
        .iter()
        .enumerate()
        .map(|(i, (role, text))| {
            let role = match role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            let content = match first_user == Some(i) && !call.attachments.is_empty() {
                true => with_attachments(text, call.attachments),
                false => json!(text),
            };
            json!({"role": role, "content": content})
        })
        .collect();
    let name = http::wire_name(call.name);
    let mut body = json!({
        "model": model,
        "max_tokens": call.max_output_tokens,
        "temperature": 0,
        "messages": messages,
        "tools": [{
            "name": name,
            "description": format!("Give the {name} answer: the input is the answer object."),
            "input_schema": call.schema,
        }],
        "tool_choice": {"type": "tool", "name": name},
    });
    if !call.system.is_empty() {
        body["system"] = json!(call.system);
    }
    body
}

/// A user message's content as blocks: each document, a PDF whole as a
/// `document` block (Claude reads its pages as images and text both), else
/// its pages as `image` blocks; then the text, after the documents as
/// Anthropic advises.
fn with_attachments(text: &str, attachments: &[Attachment<'_>]) -> Value {
    let mut blocks = Vec::new();
    for attachment in attachments {
        let shown: Vec<Value> = match attachment.pdf {
            Some(pdf) => vec![base64_block("document", "application/pdf", pdf)],
            None => attachment
                .pages
                .iter()
                .map(|page| base64_block("image", page.media_type, page.bytes))
                .collect(),
        };
        if !shown.is_empty() {
            blocks.push(json!({"type": "text", "text": attachment.label()}));
            blocks.extend(shown);
        }
    }
    blocks.push(json!({"type": "text", "text": text}));
    Value::Array(blocks)
}

fn base64_block(kind: &str, media_type: &str, bytes: &[u8]) -> Value {
    json!({
        "type": kind,
        "source": {"type": "base64", "media_type": media_type, "data": base64(bytes)},
    })
}

fn parse_reply(body: &Value, model: &str, call: &Call<'_>) -> Result<Reply, CallError> {
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            CallError::Invalid(format!(
                "the response has no content: {}",
                quote(&body.to_string())
            ))
        })?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let stop = body.get("stop_reason").and_then(Value::as_str);
    if stop == Some("refusal") {
        let reason = if text.trim().is_empty() {
            "no reason given".to_string()
        } else {
            http::cap(text.trim(), 300)
        };
        return Err(CallError::Refused(reason));
    }
    let name = http::wire_name(call.name);
    let input = blocks
        .iter()
        .find(|b| {
            b.get("type").and_then(Value::as_str) == Some("tool_use")
                && b.get("name").and_then(Value::as_str) == Some(name.as_str())
        })
        .and_then(|b| b.get("input"));
    let value = match input {
        Some(object @ Value::Object(_)) => object.clone(),
        Some(other) => {
            return Err(CallError::Invalid(format!(
                "the `{name}` tool input is not an object: {}",
                quote(&other.to_string())
            )))
        }
        None if text.trim().is_empty() => return Err(CallError::Empty),
        None if stop == Some("max_tokens") => {
            return Err(CallError::Invalid(format!(
                "the answer was cut off at {} output tokens before calling `{name}`: {}",
                call.max_output_tokens,
                quote(&text)
            )))
        }
        None => {
            return Err(CallError::Invalid(format!(
                "the model wrote text instead of calling `{name}`: {}",
                quote(&text)
            )))
        }
    };
    Ok(http::reply(
        body,
        value,
        ("input_tokens", "output_tokens"),
        model,
    ))
}
