//! The Bedrock adapter against recorded Converse exchanges replayed through
//! the SDK's own HTTP layer: the real request serialisation and response
//! parsing run, and no call leaves the process. Validation and the repair
//! turn are the reason stage's (functions/core/tests/reason_tasks.rs).

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime::client::http::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use handoff_aws::bedrock::BedrockModel;
use handoff_core::ports::{
    DocumentBytes, Model, ModelAnswer, ModelError, ModelRequest, Prompt, PromptDocument,
    PromptImage, Turn,
};
use serde_json::{json, Value};

fn reply(status: u16, body: Value) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .uri("https://bedrock-runtime.eu-west-1.amazonaws.com/model/m/converse")
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-amzn-errortype", body["__type"].as_str().unwrap_or(""))
            .body(SdkBody::from(body.to_string()))
            .unwrap(),
    )
}

fn message(content: Value, stop: &str) -> ReplayEvent {
    reply(
        200,
        json!({
            "output": { "message": { "role": "assistant", "content": content }},
            "stopReason": stop,
            "usage": { "inputTokens": 800, "outputTokens": 60, "totalTokens": 860 },
            "metrics": { "latencyMs": 400 }
        }),
    )
}

fn tool_answer(input: Value) -> ReplayEvent {
    message(
        json!([{ "toolUse": { "toolUseId": "t1", "name": "issue_type", "input": input } }]),
        "tool_use",
    )
}

fn model(events: Vec<ReplayEvent>) -> (BedrockModel, StaticReplayClient) {
    let http = StaticReplayClient::new(events);
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .http_client(http.clone())
        // One exchange per test: the SDK's own retries would replay more.
        .retry_config(RetryConfig::disabled())
        .build();
    let client = aws_sdk_bedrockruntime::Client::from_conf(config);
    (BedrockModel::new(client, "test-model"), http)
}

fn prompt() -> Prompt {
    Prompt {
        name: "issue_type".into(),
        system: "Classify the event.".into(),
        turns: vec![
            Turn::User("<<DATA-1>>{\"text\": \"refund me\"}<<END-DATA-1>>".into()),
            Turn::Assistant("{\"label\": \"nope\"}".into()),
            Turn::User("That answer does not match the schema.".into()),
        ],
        schema: json!({
            "type": "object",
            "properties": { "label": { "type": "string", "enum": ["refund_request", "other"] } },
            "required": ["label"],
        }),
        max_output_tokens: 300,
        documents: Vec::new(),
    }
}

async fn ask(model: &BedrockModel) -> Result<ModelAnswer, ModelError> {
    ask_with(model, &prompt()).await
}

async fn ask_with(model: &BedrockModel, prompt: &Prompt) -> Result<ModelAnswer, ModelError> {
    let workflow = handoff_workflows::catalog()
        .get("support-triage")
        .expect("shipped workflow");
    let task = workflow.spec.reason.task("issue_type").unwrap();
    model
        .answer(&ModelRequest {
            workflow,
            task,
            text: "refund me",
            feedback: &[],
            prompt,
            models: None,
        })
        .await
}

fn sent(http: &StaticReplayClient) -> Vec<Value> {
    http.actual_requests()
        .map(|r| serde_json::from_slice(r.body().bytes().expect("in-memory body")).unwrap())
        .collect()
}

#[tokio::test]
async fn forced_tool_input_is_the_answer_with_its_usage() {
    let (model, _http) = model(vec![tool_answer(json!({ "label": "refund_request" }))]);
    let answer = ask(&model).await.unwrap();
    assert_eq!(answer.value, json!({ "label": "refund_request" }));
    assert_eq!(answer.model, "test-model");
    let usage = answer.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (800, 60));
}

#[tokio::test]
async fn request_carries_the_prompt_and_forces_the_task_tool() {
    let (model, http) = model(vec![tool_answer(json!({ "label": "other" }))]);
    ask(&model).await.unwrap();
    let body = &sent(&http)[0];
    assert_eq!(body["system"][0]["text"], "Classify the event.");
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    let tools = &body["toolConfig"];
    assert_eq!(tools["toolChoice"]["tool"]["name"], "issue_type");
    let schema = &tools["tools"][0]["toolSpec"]["inputSchema"]["json"];
    assert_eq!(schema, &prompt().schema);
    assert_eq!(body["inferenceConfig"]["maxTokens"], 300);
}

#[tokio::test]
async fn a_content_filter_is_a_refusal() {
    let (model, _http) = model(vec![message(json!([]), "content_filtered")]);
    assert!(matches!(ask(&model).await, Err(ModelError::Refused(_))));
}

#[tokio::test]
async fn text_instead_of_the_tool_is_invalid_and_quoted() {
    let (model, _http) = model(vec![message(
        json!([{ "text": "I cannot help with that." }]),
        "end_turn",
    )]);
    match ask(&model).await {
        Err(ModelError::Invalid(why)) => assert!(why.contains("I cannot help"), "{why}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn throttling_is_rate_limited() {
    let (model, _http) = model(vec![reply(
        429,
        json!({ "__type": "ThrottlingException", "message": "slow down" }),
    )]);
    assert!(matches!(
        ask(&model).await,
        Err(ModelError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_service_fault_is_a_server_error() {
    let (model, _http) = model(vec![reply(
        500,
        json!({ "__type": "InternalServerException", "message": "oops" }),
    )]);
    assert!(matches!(ask(&model).await, Err(ModelError::Server { .. })));
}

#[tokio::test]
async fn sdk_failure_is_unavailable() {
    let (model, _http) = model(vec![]);
    assert!(matches!(ask(&model).await, Err(ModelError::Unavailable(_))));
}

fn png_page(bytes: &[u8]) -> PromptImage {
    PromptImage {
        media_type: "image/png",
        bytes: DocumentBytes::from(bytes.to_vec()),
    }
}

/// The prompt showing a PDF (whole, and its page rendered) and a PNG scan.
fn prompt_showing(pdf: &[u8]) -> Prompt {
    Prompt {
        documents: vec![
            PromptDocument {
                number: 1,
                sha256: "sha256:01".into(),
                pdf: Some(DocumentBytes::from(pdf.to_vec())),
                pages: vec![png_page(b"\x89PNG page one")],
                page_count: 1,
            },
            PromptDocument {
                number: 2,
                sha256: "sha256:02".into(),
                pdf: None,
                pages: vec![png_page(b"\x89PNG a scan")],
                page_count: 1,
            },
        ],
        ..prompt()
    }
}

fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_pdf_goes_as_a_named_document_block_and_a_scan_as_an_image_block() {
    let (model, http) = model(vec![tool_answer(json!({ "label": "other" }))]);
    let pdf = b"%PDF-1.7 one page";
    let answer = ask_with(&model, &prompt_showing(pdf)).await.unwrap();
    assert_eq!(answer.note, None, "all went as offered");

    let body = &sent(&http)[0];
    let first = &body["messages"][0]["content"];
    assert_eq!(
        first,
        &json!([
            { "text": "[document 1]" },
            // Numbered, never the sender's file name: Bedrock reads the name.
            { "document": { "format": "pdf", "name": "document-1", "source": { "bytes": base64(pdf) } } },
            { "text": "[document 2]" },
            { "image": { "format": "png", "source": { "bytes": base64(b"\x89PNG a scan") } } },
            { "text": "<<DATA-1>>{\"text\": \"refund me\"}<<END-DATA-1>>" },
        ])
    );
    // The repair turn is text alone.
    assert_eq!(
        body["messages"][2]["content"],
        json!([{ "text": "That answer does not match the schema." }])
    );
}

#[tokio::test]
async fn a_pdf_over_the_document_limit_goes_as_its_pages_and_the_answer_says_so() {
    let (model, http) = model(vec![tool_answer(json!({ "label": "other" }))]);
    let mut big = b"%PDF-1.7 ".to_vec();
    big.resize(4_600_000, b' ');
    let answer = ask_with(&model, &prompt_showing(&big)).await.unwrap();

    let first = sent(&http)[0]["messages"][0]["content"].clone();
    let kinds: Vec<String> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|block| block.as_object().unwrap().keys().next().unwrap().clone())
        .collect();
    assert_eq!(kinds, ["text", "image", "text", "image", "text"]);
    assert_eq!(
        first[1]["image"]["source"]["bytes"],
        base64(b"\x89PNG page one")
    );
    let note = answer.note.expect("a note for the audit trail");
    assert!(note.contains("document 1 went as page images"), "{note}");
}
