use std::time::{Duration, Instant};

use handoff_llm::testing::{ScriptedServer, Step};
use handoff_llm::{Anthropic, CallError, Provider, Reply};
use serde_json::json;

use super::{call, closed_port, schema, turns};

const KEY: &str = "sk-ant-test-SECRET-0123456789";

fn provider(server: &ScriptedServer) -> Anthropic {
    Anthropic {
        endpoint: server.base_url(),
        timeout: Duration::from_secs(5),
        ..Anthropic::new("claude-test", KEY)
    }
}

async fn ask(provider: &Anthropic) -> Result<Reply, CallError> {
    let (schema, turns) = (schema(), turns());
    provider.call(&call(&schema, &turns)).await
}

#[tokio::test]
async fn anthropic_valid_answer_comes_back_with_usage() {
    let server = ScriptedServer::start().await;
    let answer = json!({"label": "billing", "confidence": 0.9, "summary": "Charged twice."});
    server.push(Step::Valid(answer.clone()));

    let reply = ask(&provider(&server)).await.unwrap();

    let sent = &server.requests()[0];
    assert_eq!(reply.value, answer);
    assert_eq!(reply.model, "claude-test");
    assert_eq!(reply.input_tokens, sent.to_string().len() as u64 / 4);
    assert_eq!(reply.output_tokens, answer.to_string().len() as u64 / 4);
    assert_eq!(sent["model"], "claude-test");
    assert_eq!(sent["max_tokens"], 256);
    assert_eq!(sent["temperature"], 0);
    assert_eq!(sent["system"], "Classify the support ticket.");
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "My card was charged twice."}])
    );
    assert_eq!(sent["tools"][0]["name"], "triage");
    assert_eq!(sent["tools"][0]["input_schema"], schema());
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "triage"})
    );
}

#[tokio::test]
async fn anthropic_key_and_version_headers_are_sent() {
    let server = ScriptedServer::start().await;

    ask(&provider(&server)).await.unwrap();

    let received = &server.received()[0];
    assert_eq!(received.path, "/v1/messages");
    assert!(received.headers.contains(&("x-api-key".into(), KEY.into())));
    assert!(received
        .headers
        .contains(&("anthropic-version".into(), "2023-06-01".into())));
}

#[tokio::test]
async fn anthropic_auto_answer_meets_the_schema() {
    let server = ScriptedServer::start().await;

    let reply = ask(&provider(&server)).await.unwrap();

    assert_eq!(
        reply.value,
        json!({"label": "billing", "confidence": 1, "summary": "sample"})
    );
}

#[tokio::test]
async fn anthropic_429_reports_retry_after() {
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 429,
        retry_after: Some(12),
        body: r#"{"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}"#
            .into(),
    });

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::RateLimited {
            retry_after: Some(Duration::from_secs(12))
        }
    );
}

#[tokio::test]
async fn anthropic_529_overloaded_is_a_server_error() {
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 529,
        retry_after: None,
        body:
            r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#
                .into(),
    });

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::Server {
            status: 529,
            detail: "overloaded_error: Overloaded".into()
        }
    );
}

#[tokio::test]
async fn anthropic_500_is_a_server_error() {
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 500,
        retry_after: None,
        body: "Internal Server Error".into(),
    });

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::Server {
            status: 500,
            detail: "Internal Server Error".into()
        }
    );
}

#[tokio::test]
async fn anthropic_other_4xx_is_unavailable() {
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 400,
        retry_after: None,
        body: r#"{"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}"#
            .into(),
    });

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::Unavailable("HTTP 400: invalid_request_error: max_tokens: too large".into())
    );
}

#[tokio::test]
async fn anthropic_slow_server_times_out() {
    let server = ScriptedServer::start().await;
    server.push(Step::Delay(Duration::from_secs(10), Box::new(Step::Auto)));
    let provider = Anthropic {
        timeout: Duration::from_millis(200),
        ..provider(&server)
    };
    let started = Instant::now();

    let error = ask(&provider).await.unwrap_err();

    assert_eq!(error, CallError::Timeout(200));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn anthropic_refusal_is_refused() {
    let server = ScriptedServer::start().await;
    server.push(Step::Refusal("I won't classify this.".into()));

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(error, CallError::Refused("I won't classify this.".into()));
}

#[tokio::test]
async fn anthropic_empty_content_is_empty() {
    let server = ScriptedServer::start().await;
    server.push(Step::Empty);

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(error, CallError::Empty);
}

#[tokio::test]
async fn anthropic_text_instead_of_a_tool_call_is_invalid() {
    let server = ScriptedServer::start().await;
    server.push(Step::Raw(format!(
        "The ticket is about billing. {}",
        "More prose. ".repeat(50)
    )));

    let error = ask(&provider(&server)).await.unwrap_err();

    let CallError::Invalid(message) = &error else {
        panic!("text is invalid: {error:?}");
    };
    assert!(
        message.starts_with(
            "the model wrote text instead of calling `triage`: `The ticket is about billing."
        ),
        "{message}"
    );
    assert!(
        message.chars().count() < 300,
        "the quote is capped: {message}"
    );
}

#[tokio::test]
async fn anthropic_unreachable_endpoint_is_unavailable() {
    let provider = Anthropic {
        endpoint: format!("http://127.0.0.1:{}", closed_port().await),
        ..Anthropic::new("claude-test", KEY)
    };

    let error = ask(&provider).await.unwrap_err();

    assert!(
        matches!(&error, CallError::Unavailable(m) if m.starts_with("cannot connect")),
        "{error:?}"
    );
}

#[tokio::test]
async fn anthropic_api_key_never_appears_in_an_error() {
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 401,
        retry_after: None,
        body: format!(
            r#"{{"type": "error", "error": {{"type": "authentication_error", "message": "invalid x-api-key {KEY}"}}}}"#
        ),
    });
    server.push(Step::Raw(format!("Your key is {KEY}")));
    let provider = provider(&server);

    let errors = [
        ask(&provider).await.unwrap_err(),
        ask(&provider).await.unwrap_err(),
    ];

    for error in &errors {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(KEY), "{shown}");
    }
    assert!(!format!("{provider:?}").contains(KEY));
}

#[tokio::test]
async fn one_server_serves_both_wire_formats() {
    let server = ScriptedServer::start().await;
    let openai = handoff_llm::OpenAiCompatible::new(server.openai_url(), "gpt-test");

    let (schema, turns) = (schema(), turns());
    let request = call(&schema, &turns);
    let a = provider(&server).call(&request).await.unwrap();
    let b = openai.call(&request).await.unwrap();

    assert_eq!(a.value, b.value);
    let paths: Vec<_> = server.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/messages", "/v1/chat/completions"]);
}
