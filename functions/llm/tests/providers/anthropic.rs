use std::time::Duration;

use handoff_llm::testing::{ScriptedServer, Step};
use handoff_llm::{Anthropic, CallError, Provider};
use serde_json::json;

use super::{
    ask, assert_cannot_connect, assert_key_hidden, auto_answer_meets_the_schema, call, closed_port,
    decoded, error_for, invalid_prose, refusal_is_refused, schema, scripted, sent_with_documents,
    slow_server_times_out, status, turns, valid_answer_comes_back, PDF, PHOTO,
};

const KEY: &str = "sk-ant-test-SECRET-0123456789";

fn provider(server: &ScriptedServer) -> Anthropic {
    timing_out_after(server, Duration::from_secs(5))
}

fn timing_out_after(server: &ScriptedServer, timeout: Duration) -> Anthropic {
    Anthropic {
        endpoint: server.base_url(),
        timeout,
        ..Anthropic::new("claude-test", KEY)
    }
}

#[tokio::test]
async fn anthropic_valid_answer_comes_back_with_usage() {
    let sent = valid_answer_comes_back(provider, "claude-test").await;

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
    auto_answer_meets_the_schema(provider).await;
}

#[tokio::test]
async fn anthropic_429_reports_retry_after() {
    let body =
        r#"{"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}"#;

    let (error, _) = error_for(provider, status(429, Some(12), body)).await;

    let retry_after = Some(Duration::from_secs(12));
    assert_eq!(error, CallError::RateLimited { retry_after });
}

#[tokio::test]
async fn anthropic_529_overloaded_is_a_server_error() {
    let body =
        r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;

    let (error, _) = error_for(provider, status(529, None, body)).await;

    let detail = "overloaded_error: Overloaded".into();
    assert_eq!(
        error,
        CallError::Server {
            status: 529,
            detail
        }
    );
}

#[tokio::test]
async fn anthropic_500_is_a_server_error() {
    let (error, _) = error_for(provider, status(500, None, "Internal Server Error")).await;

    let detail = "Internal Server Error".into();
    assert_eq!(
        error,
        CallError::Server {
            status: 500,
            detail
        }
    );
}

#[tokio::test]
async fn anthropic_other_4xx_is_unavailable() {
    let body = r#"{"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}"#;

    let (error, _) = error_for(provider, status(400, None, body)).await;

    let detail = "HTTP 400: invalid_request_error: max_tokens: too large";
    assert_eq!(error, CallError::Unavailable(detail.into()));
}

#[tokio::test]
async fn anthropic_slow_server_times_out() {
    slow_server_times_out(timing_out_after).await;
}

#[tokio::test]
async fn anthropic_refusal_is_refused() {
    refusal_is_refused(provider, "I won't classify this.").await;
}

#[tokio::test]
async fn anthropic_empty_content_is_empty() {
    let (error, _) = error_for(provider, Step::Empty).await;

    assert_eq!(error, CallError::Empty);
}

#[tokio::test]
async fn anthropic_text_instead_of_a_tool_call_is_invalid() {
    let message = invalid_prose(provider, "The ticket is about billing.").await;

    assert!(
        message.starts_with(
            "the model wrote text instead of calling `triage`: `The ticket is about billing."
        ),
        "{message}"
    );
}

#[tokio::test]
async fn anthropic_unreachable_endpoint_is_unavailable() {
    let provider = Anthropic {
        endpoint: format!("http://127.0.0.1:{}", closed_port().await),
        ..Anthropic::new("claude-test", KEY)
    };

    assert_cannot_connect(&ask(&provider).await.unwrap_err());
}

#[tokio::test]
async fn anthropic_api_key_never_appears_in_an_error() {
    let rejected = format!(
        r#"{{"type": "error", "error": {{"type": "authentication_error", "message": "invalid x-api-key {KEY}"}}}}"#
    );
    let server = scripted([
        status(401, None, rejected),
        Step::Raw(format!("Your key is {KEY}")),
    ])
    .await;
    let provider = provider(&server);

    let errors = [
        ask(&provider).await.unwrap_err(),
        ask(&provider).await.unwrap_err(),
    ];

    assert_key_hidden(KEY, &errors, &provider);
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

#[tokio::test]
async fn anthropic_reads_a_whole_pdf_as_a_document_and_a_photo_as_an_image() {
    let sent = sent_with_documents(provider).await;

    let messages = sent["messages"].as_array().unwrap();
    let blocks = &messages[0]["content"];
    let data = |i: usize| blocks[i]["source"]["data"].clone();
    assert_eq!(decoded(&data(1)), PDF);
    assert_eq!(decoded(&data(3)), PHOTO);
    assert_eq!(
        blocks,
        &json!([
            {"type": "text", "text": "[document 1]"},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data(1)}},
            {"type": "text", "text": "[document 2]"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": data(3)}},
            {"type": "text", "text": "Read the invoice."},
        ])
    );
    assert_eq!(messages[1]["content"], "{}");
    assert_eq!(messages[2]["content"], "Try again.");
}
