//! The OpenAI chat-completions wire format, which most hosted and
//! self-hosted servers speak: OpenAI, Azure OpenAI, vLLM, Ollama, LiteLLM,
//! OpenRouter and others.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::http::{self, quote};
use crate::{Attachment, Call, CallError, Provider, Reply, Role};

/// An endpoint that speaks OpenAI's `/chat/completions`.
///
/// One adapter covers the many servers that copy OpenAI's format; they differ
/// in how the key is sent ([`Auth`]) and in whether they honour
/// `response_format: json_schema` ([`Structured`]). A server that rejects
/// `json_schema` with a 400 is retried once, within the same timeout, with a
/// forced tool call; set [`Structured::Tools`] for such a server to save that
/// first request.
///
/// Construct with [`OpenAiCompatible::new`] and set the public fields that
/// differ. `Debug` never shows the key.
#[derive(Clone)]
pub struct OpenAiCompatible {
    /// The base URL including the version, e.g. `https://api.openai.com/v1`;
    /// `/chat/completions` is appended (before any `?api-version=…` query).
    pub endpoint: String,
    /// The model (on Azure, the deployment) every call asks for.
    pub model: String,
    /// `None` for local servers that take no key.
    pub api_key: Option<String>,
    pub auth: Auth,
    /// The bound on one whole call, fallback request included.
    pub timeout: Duration,
    pub structured: Structured,
    /// Shared so that calls reuse connections; reqwest clients are cheap to
    /// clone.
    pub client: reqwest::Client,
}

/// How the key travels: most servers take a bearer token, Azure its own
/// `api-key` header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    #[default]
    Bearer,
    /// `<name>: <key>`, e.g. `Header("api-key".into())` for Azure.
    Header(String),
}

/// How the answer's schema is imposed on the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Structured {
    /// `response_format: {type: "json_schema", …}`: the answer is the
    /// message content. The most direct route where the server supports it.
    #[default]
    JsonSchema,
    /// One function tool with the schema as its parameters, forced by
    /// `tool_choice`: the answer is the call's arguments. Supported far more
    /// widely than `json_schema`.
    Tools,
}

impl OpenAiCompatible {
    /// No key, bearer auth, `json_schema`, a 60 s timeout and a new client.
    pub fn new(endpoint: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            model: model.into(),
            api_key: None,
            auth: Auth::Bearer,
            timeout: Duration::from_secs(60),
            structured: Structured::JsonSchema,
            client: reqwest::Client::new(),
        }
    }

    async fn exchange(&self, call: &Call<'_>) -> Result<Reply, CallError> {
        let mut posted = self.post(call, self.structured).await?;
        if self.structured == Structured::JsonSchema && posted.status == 400 {
            let text = posted.text().to_ascii_lowercase();
            if text.contains("response_format") || text.contains("json_schema") {
                tracing::warn!(
                    model = %self.model,
                    "the endpoint rejected response_format json_schema; retrying with a forced tool \
                     (configure structured: Tools to skip the first request)"
                );
                posted = self.post(call, Structured::Tools).await?;
            }
        }
        let body = posted.into_json()?;
        parse_reply(&body, &self.model, call.max_output_tokens)
    }

    async fn post(&self, call: &Call<'_>, mode: Structured) -> Result<http::Posted, CallError> {
        let url = http::join(&self.endpoint, "/chat/completions");
        let mut request = self.client.post(url);
        if let Some(key) = &self.api_key {
            let (name, value) = match &self.auth {
                Auth::Bearer => ("authorization", format!("Bearer {key}")),
                Auth::Header(name) => (name.as_str(), key.clone()),
            };
            request = request.header(name, http::secret_header(&value)?);
        }
        http::post_json(
            request,
            &request_body(&self.model, call, mode),
            self.timeout,
        )
        .await
    }
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("structured", &self.structured)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    async fn call(&self, call: &Call<'_>) -> Result<Reply, CallError> {
        http::bounded(self.timeout, self.api_key.as_deref(), self.exchange(call)).await
    }
}

fn request_body(model: &str, call: &Call<'_>, mode: Structured) -> Value {
    let mut messages = Vec::with_capacity(call.turns.len() + 1);
    if !call.system.is_empty() {
        messages.push(json!({"role": "system", "content": call.system}));
    }
    let first_user = call.turns.iter().position(|(role, _)| *role == Role::User);
    for (i, (role, text)) in call.turns.iter().enumerate() {
        let role = match role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let content = match first_user == Some(i) && !call.attachments.is_empty() {
            true => with_attachments(text, call.attachments),
            false => json!(text),
        };
        messages.push(json!({"role": role, "content": content}));
    }
    let name = http::wire_name(call.name);
    let mut body = json!({
        "model": model,
        "messages": messages,
        "temperature": 0,
        "max_tokens": call.max_output_tokens,
    });
    match mode {
        Structured::JsonSchema => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": name, "schema": call.schema, "strict": false},
            });
        }
        Structured::Tools => {
            body["tools"] = json!([{
                "type": "function",
                "function": {
                    "name": name,
                    "description": format!("Give the {name} answer: the arguments are the answer object."),
                    "parameters": call.schema,
                },
            }]);
            body["tool_choice"] = json!({"type": "function", "function": {"name": name}});
        }
    }
    body
}

/// A user message's content as parts: each document's pages as inline
/// images (what OpenAI-compatible servers that read images all take; few
/// take a PDF), then the text.
fn with_attachments(text: &str, attachments: &[Attachment<'_>]) -> Value {
    let mut parts = Vec::new();
    for attachment in attachments.iter().filter(|a| !a.pages.is_empty()) {
        parts.push(json!({"type": "text", "text": attachment.label()}));
        for page in attachment.pages {
            parts.push(json!({"type": "image_url", "image_url": {"url": page.data_url()}}));
        }
    }
    parts.push(json!({"type": "text", "text": text}));
    Value::Array(parts)
}

fn parse_reply(body: &Value, model: &str, max_output_tokens: u32) -> Result<Reply, CallError> {
    let choice = body.pointer("/choices/0").ok_or_else(|| {
        CallError::Invalid(format!(
            "the response has no choices: {}",
            quote(&body.to_string())
        ))
    })?;
    let message = choice.get("message").ok_or_else(|| {
        CallError::Invalid(format!(
            "the choice has no message: {}",
            quote(&choice.to_string())
        ))
    })?;
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    match message.get("refusal") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(refusal) => return Err(CallError::Refused(http::cap(&text_of(refusal), 300))),
    }
    if finish == Some("content_filter") {
        return Err(CallError::Refused(
            "the provider's content filter stopped the answer".into(),
        ));
    }
    let value = match message.pointer("/tool_calls/0/function/arguments") {
        // Some servers send the arguments as an object rather than a string.
        Some(object @ Value::Object(_)) => object.clone(),
        Some(arguments) => parse_object(&text_of(arguments), finish, max_output_tokens)?,
        None => parse_object(
            &text_of(message.get("content").unwrap_or(&Value::Null)),
            finish,
            max_output_tokens,
        )?,
    };
    Ok(http::reply(
        body,
        value,
        ("prompt_tokens", "completion_tokens"),
        model,
    ))
}

/// A message field as text: a string, the text parts of a content array
/// (some servers send one), or nothing for null.
fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        other => other.to_string(),
    }
}

/// The answer object in a model's text. Models often wrap JSON in a
/// Markdown fence even when told not to; that much is forgiven.
fn parse_object(
    text: &str,
    finish: Option<&str>,
    max_output_tokens: u32,
) -> Result<Value, CallError> {
    let text = unfence(text);
    if text.is_empty() {
        return Err(CallError::Empty);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(CallError::Invalid(format!(
            "the answer is a JSON {}, not an object: {}",
            kind(&other),
            quote(text)
        ))),
        Err(_) if finish == Some("length") => Err(CallError::Invalid(format!(
            "the answer was cut off at {max_output_tokens} output tokens: {}",
            quote(text)
        ))),
        Err(e) => Err(CallError::Invalid(format!(
            "the answer is not JSON ({e}): {}",
            quote(text)
        ))),
    }
}

fn unfence(text: &str) -> &str {
    let text = text.trim();
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    // The language tag, if any, runs to the end of the first line.
    let rest = match rest.split_once('\n') {
        Some((tag, body)) if tag.trim().chars().all(|c| c.is_ascii_alphanumeric()) => body,
        _ => rest,
    };
    match rest.trim_end().strip_suffix("```") {
        Some(inner) => inner.trim(),
        None => text,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_whitespace_are_forgiven() {
        let parsed = |t: &str| parse_object(t, None, 10);
        assert_eq!(
            parsed("\n ```json\n{\"a\": 1}\n```\n").unwrap(),
            json!({"a": 1})
        );
        assert_eq!(parsed("```\n{\"a\": 1}```").unwrap(), json!({"a": 1}));
        assert_eq!(parsed("  {\"a\": 1}  ").unwrap(), json!({"a": 1}));
        assert_eq!(parsed(" \n "), Err(CallError::Empty));
        assert_eq!(parsed("```json\n```"), Err(CallError::Empty));
    }

    #[test]
    fn non_objects_say_what_they_are() {
        let Err(CallError::Invalid(message)) = parse_object("[1, 2]", None, 10) else {
            panic!("an array is not an answer");
        };
        assert!(message.contains("JSON array"), "{message}");
    }

    #[test]
    fn a_cut_off_answer_says_so() {
        let Err(CallError::Invalid(message)) = parse_object("{\"a\": \"lo", Some("length"), 64)
        else {
            panic!("a truncated object is not an answer");
        };
        assert!(message.contains("cut off at 64 output tokens"), "{message}");
    }

    #[test]
    fn a_content_filter_stop_is_a_refusal() {
        let body = json!({
            "choices": [{"message": {"role": "assistant", "content": ""}, "finish_reason": "content_filter"}],
        });
        assert!(matches!(
            parse_reply(&body, "m", 10),
            Err(CallError::Refused(_))
        ));
    }

    #[test]
    fn usage_and_model_default_when_absent() {
        let body = json!({"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}]});
        let reply = parse_reply(&body, "configured", 10).unwrap();
        assert_eq!((reply.input_tokens, reply.output_tokens), (0, 0));
        assert_eq!(reply.model, "configured");
    }

    #[test]
    fn quotes_are_capped() {
        let long = format!("not json {}", "x".repeat(1000));
        let Err(CallError::Invalid(message)) = parse_object(&long, None, 10) else {
            panic!("prose is not an answer");
        };
        assert!(message.len() < 400, "{message}");
    }
}
