use std::time::{Duration, Instant};

use handoff_llm::testing::{ScriptedServer, Step};
use handoff_llm::{Auth, CallError, OpenAiCompatible, Provider, Reply, Role, Structured};
use serde_json::json;

use super::{call, closed_port, schema, turns};

const KEY: &str = "sk-test-SECRET-0123456789";

fn provider(server: &ScriptedServer) -> OpenAiCompatible {
    OpenAiCompatible {
        api_key: Some(KEY.to_string()),
        timeout: Duration::from_secs(5),
        ..OpenAiCompatible::new(server.openai_url(), "gpt-test")
    }
}

async fn ask(provider: &OpenAiCompatible) -> Result<Reply, CallError> {
    let (schema, turns) = (schema(), turns());
    provider.call(&call(&schema, &turns)).await
}

#[tokio::test]
async fn openai_valid_answer_comes_back_with_usage() {
    let server = ScriptedServer::start().await;
    let answer = json!({"label": "billing", "confidence": 0.9, "summary": "Charged twice."});
    server.push(Step::Valid(answer.clone()));

    let reply = ask(&provider(&server)).await.unwrap();

    let sent = &server.requests()[0];
    assert_eq!(reply.value, answer);
    assert_eq!(reply.model, "gpt-test");
    assert_eq!(reply.input_tokens, sent.to_string().len() as u64 / 4);
    assert_eq!(reply.output_tokens, answer.to_string().len() as u64 / 4);
    assert_eq!(sent["model"], "gpt-test");
    assert_eq!(sent["temperature"], 0);
    assert_eq!(sent["max_tokens"], 256);
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
    let server = ScriptedServer::start().await;

    let reply = ask(&provider(&server)).await.unwrap();

    assert_eq!(
        reply.value,
        json!({"label": "billing", "confidence": 1, "summary": "sample"})
    );
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
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 429,
        retry_after: Some(7),
        body: r#"{"error": {"message": "Rate limit reached"}}"#.into(),
    });

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(server.requests().len(), 1, "the adapter never retries");
}

#[tokio::test]
async fn openai_500_is_a_server_error() {
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 500,
        retry_after: None,
        body: r#"{"error": {"type": "server_error", "message": "The server had an error"}}"#.into(),
    });
    server.push(Step::Status {
        status: 503,
        retry_after: None,
        body: "x".repeat(10_000),
    });
    let provider = provider(&server);

    let first = ask(&provider).await.unwrap_err();
    let second = ask(&provider).await.unwrap_err();

    assert_eq!(
        first,
        CallError::Server {
            status: 500,
            detail: "server_error: The server had an error".into()
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
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 404,
        retry_after: None,
        body: r#"{"error": {"message": "The model `gpt-test` does not exist"}}"#.into(),
    });

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::Unavailable("HTTP 404: The model `gpt-test` does not exist".into())
    );
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

    let error = ask(&provider).await.unwrap_err();

    let CallError::Unavailable(message) = &error else {
        panic!("a refused connection is unavailable: {error:?}");
    };
    assert!(message.starts_with("cannot connect"), "{message}");
}

#[tokio::test]
async fn openai_slow_server_times_out() {
    let server = ScriptedServer::start().await;
    server.push(Step::Delay(Duration::from_secs(10), Box::new(Step::Auto)));
    let provider = OpenAiCompatible {
        timeout: Duration::from_millis(200),
        ..provider(&server)
    };
    let started = Instant::now();

    let error = ask(&provider).await.unwrap_err();

    assert_eq!(error, CallError::Timeout(200));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn openai_refusal_is_refused() {
    let server = ScriptedServer::start().await;
    server.push(Step::Refusal("I can't help with that.".into()));

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(error, CallError::Refused("I can't help with that.".into()));
}

#[tokio::test]
async fn openai_empty_content_is_empty() {
    let server = ScriptedServer::start().await;
    server.push(Step::Empty);
    server.push(Step::Raw("  \n ".into()));
    let provider = provider(&server);

    assert_eq!(ask(&provider).await.unwrap_err(), CallError::Empty);
    assert_eq!(ask(&provider).await.unwrap_err(), CallError::Empty);
}

#[tokio::test]
async fn openai_non_json_is_invalid() {
    let server = ScriptedServer::start().await;
    server.push(Step::Raw(format!(
        "Sure! The label is billing. {}",
        "More prose. ".repeat(50)
    )));

    let error = ask(&provider(&server)).await.unwrap_err();

    let CallError::Invalid(message) = &error else {
        panic!("prose is invalid: {error:?}");
    };
    assert!(message.starts_with("the answer is not JSON"), "{message}");
    assert!(
        message.contains("`Sure! The label is billing."),
        "{message}"
    );
    assert!(
        message.chars().count() < 300,
        "the quote is capped: {message}"
    );
}

#[tokio::test]
async fn openai_json_that_is_not_an_object_is_invalid() {
    let server = ScriptedServer::start().await;
    server.push(Step::Valid(json!(["billing"])));

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::Invalid("the answer is a JSON array, not an object: `[\"billing\"]`".into())
    );
}

#[tokio::test]
async fn openai_fenced_json_is_accepted() {
    let server = ScriptedServer::start().await;
    server.push(Step::Raw("\n```json\n{\"label\": \"bug\"}\n```\n".into()));

    let reply = ask(&provider(&server)).await.unwrap();

    assert_eq!(reply.value, json!({"label": "bug"}));
}

#[tokio::test]
async fn openai_oversized_response_is_invalid() {
    let server = ScriptedServer::start().await;
    server.push(Step::Valid(json!({"summary": "x".repeat(2 << 20)})));

    let error = ask(&provider(&server)).await.unwrap_err();

    assert_eq!(
        error,
        CallError::Invalid("the response is larger than 1024 KiB".into())
    );
}

#[tokio::test]
async fn openai_falls_back_to_a_forced_tool_without_json_schema() {
    let server = ScriptedServer::start().await;
    server.push(Step::NoJsonSchema);

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
    let server = ScriptedServer::start().await;
    let answer = json!({"label": "bug", "confidence": 0.5, "summary": "Crash."});
    server.push(Step::Valid(answer.clone()));
    let provider = OpenAiCompatible {
        structured: Structured::Tools,
        ..provider(&server)
    };

    let reply = ask(&provider).await.unwrap();

    assert_eq!(reply.value, answer);
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["tool_choice"]["function"]["name"], "triage");
}

#[tokio::test]
async fn openai_tool_arguments_that_are_not_json_are_invalid() {
    let server = ScriptedServer::start().await;
    server.push(Step::Raw("{\"label\": ".into()));
    let provider = OpenAiCompatible {
        structured: Structured::Tools,
        ..provider(&server)
    };

    let error = ask(&provider).await.unwrap_err();

    assert!(matches!(error, CallError::Invalid(_)), "{error:?}");
}

#[tokio::test]
async fn openai_api_key_never_appears_in_an_error() {
    let server = ScriptedServer::start().await;
    server.push(Step::Status {
        status: 401,
        retry_after: None,
        body: format!(r#"{{"error": {{"message": "Incorrect API key provided: {KEY}"}}}}"#),
    });
    server.push(Step::Status {
        status: 502,
        retry_after: None,
        body: format!("upstream rejected Authorization: Bearer {KEY}"),
    });
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

    for error in &errors {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    assert!(
        errors[0].to_string().contains("[redacted]"),
        "{}",
        errors[0]
    );
    assert!(!format!("{provider:?}").contains(KEY));
}
