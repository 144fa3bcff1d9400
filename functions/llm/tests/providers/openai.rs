use std::time::Duration;

use handoff_llm::testing::{ScriptedServer, Step};
use handoff_llm::{Auth, CallError, OpenAiCompatible, Provider, Role, Structured};
use serde_json::json;

use super::{
    ask, assert_cannot_connect, assert_key_hidden, auto_answer_meets_the_schema, call, closed_port,
    decoded, error_for, invalid_prose, refusal_is_refused, schema, scripted, sent_with_documents,
    slow_server_times_out, status, valid_answer_comes_back, PHOTO, RENDERED,
};

const KEY: &str = "sk-test-SECRET-0123456789";

fn provider(server: &ScriptedServer) -> OpenAiCompatible {
    timing_out_after(server, Duration::from_secs(5))
}

fn timing_out_after(server: &ScriptedServer, timeout: Duration) -> OpenAiCompatible {
    OpenAiCompatible {
        api_key: Some(KEY.to_string()),
        timeout,
        ..OpenAiCompatible::new(server.openai_url(), "gpt-test")
    }
}

/// The provider in tools mode, forcing the answer tool from the start.
fn tools_provider(server: &ScriptedServer) -> OpenAiCompatible {
    OpenAiCompatible {
        structured: Structured::Tools,
        ..provider(server)
    }
}

#[tokio::test]
async fn openai_valid_answer_comes_back_with_usage() {
    let sent = valid_answer_comes_back(provider, "gpt-test").await;

    assert_eq!(
        sent["messages"],
        json!([
            {"role": "system", "content": "Classify the support ticket."},
            {"role": "user", "content": "My card was charged twice."},
        ])
    );
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "triage", "schema": schema(), "strict": false}})
    );
    assert!(sent.get("tools").is_none());
}

#[tokio::test]
async fn openai_turns_keep_their_order_and_roles() {
    let server = ScriptedServer::start().await;
    let (schema, turns) = (
        schema(),
        vec![
            (Role::User, "first".to_string()),
            (Role::Assistant, "{\"label\": 3}".to_string()),
            (Role::User, "label must be a string".to_string()),
        ],
    );
    let mut request = call(&schema, &turns);
    request.system = "";

    provider(&server).call(&request).await.unwrap();

    let roles: Vec<_> = server.requests()[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "user"],
        "no empty system message"
    );
}

#[tokio::test]
async fn openai_auto_answer_meets_the_schema() {
    auto_answer_meets_the_schema(provider).await;
}

#[tokio::test]
async fn openai_bearer_key_is_sent() {
    let server = ScriptedServer::start().await;

    ask(&provider(&server)).await.unwrap();

    let headers = &server.received()[0].headers;
    assert!(headers.contains(&("authorization".into(), format!("Bearer {KEY}"))));
}

#[tokio::test]
async fn openai_header_auth_sends_the_key_under_its_name() {
    let server = ScriptedServer::start().await;
    let azure = OpenAiCompatible {
        auth: Auth::Header("api-key".into()),
        ..provider(&server)
    };

    ask(&azure).await.unwrap();

    let headers = &server.received()[0].headers;
    assert!(headers.contains(&("api-key".into(), KEY.into())));
    assert!(!headers.iter().any(|(name, _)| name == "authorization"));
}

#[tokio::test]
async fn openai_429_reports_retry_after() {
    let body = r#"{"error": {"message": "Rate limit reached"}}"#;

    let (error, server) = error_for(provider, status(429, Some(7), body)).await;

    let retry_after = Some(Duration::from_secs(7));
    assert_eq!(error, CallError::RateLimited { retry_after });
    assert_eq!(server.requests().len(), 1, "the adapter never retries");
}

#[tokio::test]
async fn openai_500_is_a_server_error() {
    let server = scripted([
        status(
            500,
            None,
            r#"{"error": {"type": "server_error", "message": "The server had an error"}}"#,
        ),
        status(503, None, "x".repeat(10_000)),
    ])
    .await;
    let provider = provider(&server);

    let first = ask(&provider).await.unwrap_err();
    let second = ask(&provider).await.unwrap_err();

    let detail = "server_error: The server had an error".into();
    assert_eq!(
        first,
        CallError::Server {
            status: 500,
            detail
        }
    );
    let CallError::Server {
        status: 503,
        detail,
    } = second
    else {
        panic!("a 503 is a server error: {second:?}");
    };
    assert_eq!(
        detail.chars().count(),
        301,
        "300 characters and an ellipsis"
    );
}

#[tokio::test]
async fn openai_other_4xx_is_unavailable() {
    let body = r#"{"error": {"message": "The model `gpt-test` does not exist"}}"#;

    let (error, server) = error_for(provider, status(404, None, body)).await;

    let detail = "HTTP 404: The model `gpt-test` does not exist";
    assert_eq!(error, CallError::Unavailable(detail.into()));
    assert_eq!(
        server.requests().len(),
        1,
        "only a json_schema 400 falls back"
    );
}

#[tokio::test]
async fn openai_unreachable_endpoint_is_unavailable() {
    let provider = OpenAiCompatible::new(
        format!("http://127.0.0.1:{}/v1", closed_port().await),
        "gpt-test",
    );

    assert_cannot_connect(&ask(&provider).await.unwrap_err());
}

#[tokio::test]
async fn openai_slow_server_times_out() {
    slow_server_times_out(timing_out_after).await;
}

#[tokio::test]
async fn openai_refusal_is_refused() {
    refusal_is_refused(provider, "I can't help with that.").await;
}

#[tokio::test]
async fn openai_empty_content_is_empty() {
    let server = scripted([Step::Empty, Step::Raw("  \n ".into())]).await;
    let provider = provider(&server);

    assert_eq!(ask(&provider).await.unwrap_err(), CallError::Empty);
    assert_eq!(ask(&provider).await.unwrap_err(), CallError::Empty);
}

#[tokio::test]
async fn openai_non_json_is_invalid() {
    let message = invalid_prose(provider, "Sure! The label is billing.").await;

    assert!(message.starts_with("the answer is not JSON"), "{message}");
    assert!(
        message.contains("`Sure! The label is billing."),
        "{message}"
    );
}

#[tokio::test]
async fn openai_json_that_is_not_an_object_is_invalid() {
    let (error, _) = error_for(provider, Step::Valid(json!(["billing"]))).await;

    let detail = "the answer is a JSON array, not an object: `[\"billing\"]`";
    assert_eq!(error, CallError::Invalid(detail.into()));
}

#[tokio::test]
async fn openai_fenced_json_is_accepted() {
    let server = scripted([Step::Raw("\n```json\n{\"label\": \"bug\"}\n```\n".into())]).await;

    let reply = ask(&provider(&server)).await.unwrap();

    assert_eq!(reply.value, json!({"label": "bug"}));
}

#[tokio::test]
async fn openai_oversized_response_is_invalid() {
    let huge = json!({"summary": "x".repeat(2 << 20)});

    let (error, _) = error_for(provider, Step::Valid(huge)).await;

    let detail = "the response is larger than 1024 KiB";
    assert_eq!(error, CallError::Invalid(detail.into()));
}

#[tokio::test]
async fn openai_falls_back_to_a_forced_tool_without_json_schema() {
    let server = scripted([Step::NoJsonSchema]).await;

    let reply = ask(&provider(&server)).await.unwrap();

    assert_eq!(reply.value["label"], "billing");
    let sent = server.requests();
    assert_eq!(sent.len(), 2, "one json_schema request, one tool request");
    assert_eq!(sent[0]["response_format"]["type"], "json_schema");
    assert!(sent[1].get("response_format").is_none());
    assert_eq!(sent[1]["tools"][0]["type"], "function");
    assert_eq!(sent[1]["tools"][0]["function"]["name"], "triage");
    assert_eq!(sent[1]["tools"][0]["function"]["parameters"], schema());
    assert_eq!(
        sent[1]["tool_choice"],
        json!({"type": "function", "function": {"name": "triage"}})
    );
    assert_eq!(sent[1]["messages"], sent[0]["messages"]);
}

#[tokio::test]
async fn openai_tools_mode_forces_the_tool_from_the_start() {
    let answer = json!({"label": "bug", "confidence": 0.5, "summary": "Crash."});
    let server = scripted([Step::Valid(answer.clone())]).await;

    let reply = ask(&tools_provider(&server)).await.unwrap();

    assert_eq!(reply.value, answer);
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["tool_choice"]["function"]["name"], "triage");
}

#[tokio::test]
async fn openai_tool_arguments_that_are_not_json_are_invalid() {
    let (error, _) = error_for(tools_provider, Step::Raw("{\"label\": ".into())).await;

    assert!(matches!(error, CallError::Invalid(_)), "{error:?}");
}

#[tokio::test]
async fn openai_api_key_never_appears_in_an_error() {
    let server = scripted([
        status(
            401,
            None,
            format!(r#"{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}"#),
        ),
        status(
            502,
            None,
            format!("upstream rejected Authorization: Bearer {KEY}"),
        ),
    ])
    .await;
    let provider = provider(&server);
    let unreachable = OpenAiCompatible {
        endpoint: format!("http://127.0.0.1:{}/v1?key={KEY}", closed_port().await),
        ..provider.clone()
    };

    let errors = [
        ask(&provider).await.unwrap_err(),
        ask(&provider).await.unwrap_err(),
        ask(&unreachable).await.unwrap_err(),
    ];

    assert_key_hidden(KEY, &errors, &provider);
    assert!(
        errors[0].to_string().contains("[redacted]"),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn openai_documents_go_as_inline_page_images_before_the_first_user_text() {
    let sent = sent_with_documents(provider).await;

    let messages = sent["messages"].as_array().unwrap();
    let parts = &messages[1]["content"];
    let url = |i: usize| parts[i]["image_url"]["url"].as_str().unwrap().to_string();
    let png = url(1)
        .strip_prefix("data:image/png;base64,")
        .unwrap()
        .to_string();
    let jpeg = url(3)
        .strip_prefix("data:image/jpeg;base64,")
        .unwrap()
        .to_string();
    // The rendered page, not the PDF: few such servers read a PDF.
    assert_eq!(decoded(&json!(png)), RENDERED);
    assert_eq!(decoded(&json!(jpeg)), PHOTO);
    assert_eq!(
        parts,
        &json!([
            {"type": "text", "text": "[document 1]"},
            {"type": "image_url", "image_url": {"url": url(1)}},
            {"type": "text", "text": "[document 2]"},
            {"type": "image_url", "image_url": {"url": url(3)}},
            {"type": "text", "text": "Read the invoice."},
        ])
    );
    assert_eq!(messages[2]["content"], "{}");
    assert_eq!(messages[3]["content"], "Try again.");
}
