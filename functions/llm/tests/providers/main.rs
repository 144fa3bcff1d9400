//! Both providers against the scripted server over real loopback HTTP: one
//! test per behaviour, asserting on the reply and on what was sent. What
//! both wire formats must do alike is checked by the helpers here.

mod anthropic;
mod openai;

use std::time::{Duration, Instant};

use handoff_llm::testing::{ScriptedServer, Step};
use handoff_llm::{Attachment, Call, CallError, Image, Provider, Reply, Role};
use serde_json::{json, Value};

/// A task schema of the shape the AI step sends.
fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["billing", "bug", "other"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "summary": {"type": "string"},
        },
        "required": ["label", "confidence", "summary"],
    })
}

fn turns() -> Vec<(Role, String)> {
    vec![(Role::User, "My card was charged twice.".to_string())]
}

fn call<'a>(schema: &'a Value, turns: &'a [(Role, String)]) -> Call<'a> {
    Call {
        name: "triage",
        system: "Classify the support ticket.",
        turns,
        attachments: &[],
        schema,
        max_output_tokens: 256,
    }
}

/// A one-page PDF shown whole, its page rendered; then a photo. The bytes
/// only need to survive the trip: the transport never decodes them.
const PDF: &[u8] = b"%PDF-1.7 one page";
const RENDERED: &[u8] = b"\x89PNG page one";
const PHOTO: &[u8] = b"\xff\xd8\xff a photo";

/// What the provider sends for a repaired call that shows the documents:
/// they go with the first user turn only.
async fn sent_with_documents<P: Provider>(provider: fn(&ScriptedServer) -> P) -> Value {
    let server = ScriptedServer::start().await;
    let rendered = [Image {
        media_type: "image/png",
        bytes: RENDERED,
    }];
    let photo = [Image {
        media_type: "image/jpeg",
        bytes: PHOTO,
    }];
    let attachments = [
        Attachment {
            number: 1,
            pdf: Some(PDF),
            pages: &rendered,
        },
        Attachment {
            number: 2,
            pdf: None,
            pages: &photo,
        },
    ];
    let schema = schema();
    let turns = [
        (Role::User, "Read the invoice.".to_string()),
        (Role::Assistant, "{}".to_string()),
        (Role::User, "Try again.".to_string()),
    ];
    let call = Call {
        attachments: &attachments,
        ..call(&schema, &turns)
    };
    provider(&server).call(&call).await.unwrap();
    server.requests().remove(0)
}

/// The bytes a base64 string holds.
fn decoded(base64: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(base64.as_str().expect("a base64 string"))
        .expect("valid base64")
}

/// The triage call, asked once.
async fn ask(provider: &impl Provider) -> Result<Reply, CallError> {
    let (schema, turns) = (schema(), turns());
    provider.call(&call(&schema, &turns)).await
}

/// A port nothing listens on: bound, read, released.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A fresh server that plays `steps` in order, then answers automatically.
async fn scripted(steps: impl IntoIterator<Item = Step>) -> ScriptedServer {
    let server = ScriptedServer::start().await;
    for step in steps {
        server.push(step);
    }
    server
}

/// An HTTP error reply.
fn status(status: u16, retry_after: Option<u64>, body: impl Into<String>) -> Step {
    Step::Status {
        status,
        retry_after,
        body: body.into(),
    }
}

/// What one call answers when the server plays `step`; the server is
/// returned for asserting on what was sent.
async fn error_for<P: Provider>(
    provider: fn(&ScriptedServer) -> P,
    step: Step,
) -> (CallError, ScriptedServer) {
    let server = scripted([step]).await;
    let error = ask(&provider(&server)).await.unwrap_err();
    (error, server)
}

/// A valid answer comes back as it was given, under the configured model,
/// with usage estimated at four bytes a token; the request sent asked for
/// that model, a deterministic answer and the output cap. Returns the
/// request for the wire format's own asserts.
async fn valid_answer_comes_back<P: Provider>(
    provider: fn(&ScriptedServer) -> P,
    model: &str,
) -> Value {
    let answer = json!({"label": "billing", "confidence": 0.9, "summary": "Charged twice."});
    let server = scripted([Step::Valid(answer.clone())]).await;

    let reply = ask(&provider(&server)).await.unwrap();

    let sent = server.requests().remove(0);
    assert_eq!(reply.value, answer);
    assert_eq!(reply.model, model);
    assert_eq!(reply.input_tokens, sent.to_string().len() as u64 / 4);
    assert_eq!(reply.output_tokens, answer.to_string().len() as u64 / 4);
    assert_eq!(sent["model"], model);
    assert_eq!(sent["temperature"], 0);
    assert_eq!(sent["max_tokens"], 256);
    sent
}

async fn auto_answer_meets_the_schema<P: Provider>(provider: fn(&ScriptedServer) -> P) {
    let server = ScriptedServer::start().await;

    let reply = ask(&provider(&server)).await.unwrap();

    assert_eq!(
        reply.value,
        json!({"label": "billing", "confidence": 1, "summary": "sample"})
    );
}

/// A server slower than the provider's 200 ms timeout is given up on in
/// time; `timing_out_after` builds the provider against the server.
async fn slow_server_times_out<P: Provider>(timing_out_after: fn(&ScriptedServer, Duration) -> P) {
    let slow = Step::Delay(Duration::from_secs(10), Box::new(Step::Auto));
    let server = scripted([slow]).await;
    let provider = timing_out_after(&server, Duration::from_millis(200));
    let started = Instant::now();

    let error = ask(&provider).await.unwrap_err();

    assert_eq!(error, CallError::Timeout(200));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A model that declines is a refusal, with its words.
async fn refusal_is_refused<P: Provider>(provider: fn(&ScriptedServer) -> P, refusal: &str) {
    let (error, _) = error_for(provider, Step::Refusal(refusal.into())).await;

    assert_eq!(error, CallError::Refused(refusal.into()));
}

/// The error for a long answer that is not one, which quotes its start,
/// capped; `prose` is how the answer begins.
async fn invalid_prose<P: Provider>(provider: fn(&ScriptedServer) -> P, prose: &str) -> String {
    let long = format!("{prose} {}", "More prose. ".repeat(50));
    let (error, _server) = error_for(provider, Step::Raw(long)).await;
    let CallError::Invalid(message) = error else {
        panic!("prose is invalid: {error:?}");
    };
    assert!(
        message.chars().count() < 300,
        "the quote is capped: {message}"
    );
    message
}

fn assert_cannot_connect(error: &CallError) {
    assert!(
        matches!(error, CallError::Unavailable(m) if m.starts_with("cannot connect")),
        "{error:?}"
    );
}

/// No part of the API key shows in an error, displayed or debugged, nor in
/// the provider's own debug output.
fn assert_key_hidden(key: &str, errors: &[CallError], provider: &impl std::fmt::Debug) {
    for error in errors {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(key), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    assert!(!format!("{provider:?}").contains(key));
}
