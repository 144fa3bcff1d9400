//! A scripted stand-in for the providers, on loopback (feature `test-util`).
//!
//! Tests of anything above a [`Provider`](crate::Provider) want real HTTP
//! (timeouts, statuses, body parsing all run) but no network, no key and no
//! nondeterminism. [`ScriptedServer`] answers `POST /v1/chat/completions`
//! in OpenAI's format and `POST /v1/messages` in Anthropic's, each from the
//! next [`Step`] of its script, and records every request so tests can
//! assert on the prompt that was sent.
//!
//! ```no_run
//! # async fn example() {
//! use handoff_llm::testing::{ScriptedServer, Step};
//! use handoff_llm::OpenAiCompatible;
//!
//! let server = ScriptedServer::start().await;
//! server.push(Step::Status { status: 429, retry_after: Some(2), body: String::new() });
//! let provider = OpenAiCompatible::new(server.openai_url(), "gpt-test");
//! # }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::schema;

/// What the server does with one request. Each step answers in the wire
/// format of the route it was asked on, so one script serves either provider.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// This answer object, as the content (OpenAI `json_schema`), the forced
    /// tool's arguments (OpenAI tools) or the `tool_use` input (Anthropic).
    Valid(Value),
    /// A minimal instance of the request's schema: first enum values,
    /// "sample" strings, 1 for numbers (within their bounds), one item per
    /// array, every property. The default when the script runs out.
    Auto,
    /// This text where the answer belongs: prose, broken JSON, a fence.
    Raw(String),
    /// The model declines: OpenAI's `refusal` field, Anthropic's
    /// `stop_reason: "refusal"`, with this text.
    Refusal(String),
    /// A well-formed reply with no content.
    Empty,
    /// This status and raw body (JSON or not), with `Retry-After: <seconds>`
    /// when given.
    Status {
        status: u16,
        retry_after: Option<u64>,
        body: String,
    },
    /// Waits, then does the inner step; for timeouts.
    Delay(Duration, Box<Step>),
    /// A server without `json_schema` support: a 400 naming
    /// `response_format` to a `json_schema` request (and the step stays at
    /// the head of the script), then [`Step::Auto`] to the tool request that
    /// should follow.
    NoJsonSchema,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `/v1/chat/completions` or `/v1/messages`.
    pub path: String,
    /// Every header, lowercase names; tests check that keys were sent (and
    /// how), so nothing is hidden here.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

struct Script {
    queue: VecDeque<Step>,
    default: Step,
    received: Vec<Received>,
}

type Shared = Arc<Mutex<Script>>;

/// A provider look-alike on `127.0.0.1` and a free port, stopped on drop.
pub struct ScriptedServer {
    addr: SocketAddr,
    script: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedServer {
    /// Binds and starts serving; panics if loopback cannot be bound, which
    /// no test can recover from anyway.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the scripted server");
        let addr = listener.local_addr().expect("the bound address");
        let script = Arc::new(Mutex::new(Script {
            queue: VecDeque::new(),
            default: Step::Auto,
            received: Vec::new(),
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(Arc::clone(&script));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("the scripted server stopped: {e}");
            }
        });
        Self { addr, script, task }
    }

    /// `http://127.0.0.1:PORT`: the endpoint for [`Anthropic`](crate::Anthropic).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the endpoint for
    /// [`OpenAiCompatible`](crate::OpenAiCompatible).
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// Queues a step for the next request not already scripted.
    pub fn push(&self, step: Step) {
        self.lock().queue.push_back(step);
    }

    /// What every request gets once the queue is empty ([`Step::Auto`]
    /// until set).
    pub fn set_default(&self, step: Step) {
        self.lock().default = step;
    }

    /// Every request body received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.lock()
            .received
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// Every request received so far, with its path and headers.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        lock(&self.script)
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(script: &Shared) -> MutexGuard<'_, Script> {
    script.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone, Copy, PartialEq)]
enum Wire {
    OpenAi,
    Anthropic,
}

async fn openai(State(script): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&script, Wire::OpenAi, &headers, &body).await
}

async fn anthropic(State(script): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&script, Wire::Anthropic, &headers, &body).await
}

async fn answer(script: &Shared, wire: Wire, headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return respond(400, None, error_body("the request body is not JSON"));
    };
    let (mut step, scripted) = {
        let mut script = lock(script);
        script.received.push(Received {
            path: match wire {
                Wire::OpenAi => "/v1/chat/completions",
                Wire::Anthropic => "/v1/messages",
            }
            .to_string(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect(),
            body: request.clone(),
        });
        match script.queue.pop_front() {
            Some(step) => (step, true),
            None => (script.default.clone(), false),
        }
    };
    while let Step::Delay(wait, inner) = step {
        tokio::time::sleep(wait).await;
        step = *inner;
    }
    let asks_json_schema = request.pointer("/response_format/type") == Some(&json!("json_schema"));
    if step == Step::NoJsonSchema && wire == Wire::OpenAi && asks_json_schema {
        if scripted {
            lock(script).queue.push_front(Step::NoJsonSchema);
        }
        let mut error = error_body("response_format json_schema is not supported");
        error["error"]["param"] = json!("response_format");
        return respond(400, None, error);
    }
    let prompt_tokens = body.len() / 4;
    match wire {
        Wire::OpenAi => openai_reply(step, &request, prompt_tokens),
        Wire::Anthropic => anthropic_reply(step, &request, prompt_tokens),
    }
}

/// What the model "says" (an answer's text or a refusal), or the status
/// the server answers with instead.
enum Said {
    Answer(String),
    Refusal(String),
    Status(u16, Option<u64>, String),
}

fn said(step: Step, schema: &Value) -> Said {
    match step {
        Step::Valid(value) => Said::Answer(value.to_string()),
        Step::Auto | Step::NoJsonSchema | Step::Delay(..) => {
            Said::Answer(schema::instance(schema).to_string())
        }
        Step::Raw(text) => Said::Answer(text),
        Step::Empty => Said::Answer(String::new()),
        Step::Refusal(text) => Said::Refusal(text),
        Step::Status {
            status,
            retry_after,
            body,
        } => Said::Status(status, retry_after, body),
    }
}

fn openai_reply(step: Step, request: &Value, prompt_tokens: usize) -> Response {
    let tool = request.pointer("/tools/0/function");
    let schema = match tool {
        Some(function) => function.get("parameters"),
        None => request.pointer("/response_format/json_schema/schema"),
    };
    let said = said(step, schema.unwrap_or(&json!({"type": "object"})));
    let (message, finish, answer_bytes) = match said {
        Said::Status(status, retry_after, body) => return respond_raw(status, retry_after, body),
        Said::Refusal(text) => (
            json!({"role": "assistant", "content": null, "refusal": text}),
            "stop",
            text.len(),
        ),
        Said::Answer(text) if text.is_empty() => (
            json!({"role": "assistant", "content": "", "refusal": null}),
            "stop",
            0,
        ),
        Said::Answer(text) => match tool {
            Some(function) => (
                json!({
                    "role": "assistant",
                    "content": null,
                    "refusal": null,
                    "tool_calls": [{
                        "id": "call_scripted",
                        "type": "function",
                        "function": {"name": function.get("name"), "arguments": text},
                    }],
                }),
                "tool_calls",
                text.len(),
            ),
            None => (
                json!({"role": "assistant", "content": text, "refusal": null}),
                "stop",
                text.len(),
            ),
        },
    };
    let completion_tokens = answer_bytes / 4;
    respond(
        200,
        None,
        json!({
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }),
    )
}

fn anthropic_reply(step: Step, request: &Value, prompt_tokens: usize) -> Response {
    let forced = request.pointer("/tool_choice/name").and_then(Value::as_str);
    let tool = request
        .get("tools")
        .and_then(Value::as_array)
        .and_then(|tools| {
            tools
                .iter()
                .find(|t| forced.is_none() || t.get("name").and_then(Value::as_str) == forced)
        });
    let schema = tool.and_then(|t| t.get("input_schema"));
    let said = said(step, schema.unwrap_or(&json!({"type": "object"})));
    let (content, stop, answer_bytes) = match said {
        Said::Status(status, retry_after, body) => return respond_raw(status, retry_after, body),
        Said::Refusal(text) => (
            json!([{"type": "text", "text": text}]),
            "refusal",
            text.len(),
        ),
        Said::Answer(text) if text.is_empty() => (json!([]), "end_turn", 0),
        Said::Answer(text) => match serde_json::from_str::<Value>(&text) {
            // Anthropic parses the tool input itself: a step's text that is
            // JSON becomes the input, anything else is prose.
            Ok(input) if tool.is_some() && !matches!(input, Value::String(_)) => (
                json!([{
                    "type": "tool_use",
                    "id": "toolu_scripted",
                    "name": tool.and_then(|t| t.get("name")),
                    "input": input,
                }]),
                "tool_use",
                text.len(),
            ),
            _ => (
                json!([{"type": "text", "text": text}]),
                "end_turn",
                text.len(),
            ),
        },
    };
    respond(
        200,
        None,
        json!({
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "model": request.get("model"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": null,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": answer_bytes / 4},
        }),
    )
}

fn error_body(message: &str) -> Value {
    json!({"error": {"type": "invalid_request_error", "message": message}})
}

fn respond(status: u16, retry_after: Option<u64>, body: Value) -> Response {
    respond_raw(status, retry_after, body.to_string())
}

fn respond_raw(status: u16, retry_after: Option<u64>, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = Response::builder()
        .status(status)
        .header("content-type", content_type);
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    response
        .body(Body::from(body))
        .expect("a status and fixed headers make a valid response")
}
