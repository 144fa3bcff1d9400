//! The Bedrock adapter against recorded Converse exchanges replayed through
//! the SDK's own HTTP layer: the real request serialisation and response
//! parsing run, and no call leaves the process.

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime::client::http::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use handoff_aws::bedrock::{BedrockModel, TOOL};
use handoff_core::domain::Feedback;
use handoff_core::ports::{Model, ModelAnswer, ModelError, ModelRequest};
use serde_json::{json, Value};

const TICKET: &str = "I was charged twice for order 55120, please refund one of them. \
                      It was 49.90 EUR. Reach me at ana@example.com";

fn converse_reply(body: Value) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .uri("https://bedrock-runtime.eu-west-1.amazonaws.com/model/m/converse")
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(SdkBody::from(body.to_string()))
            .unwrap(),
    )
}

fn tool_answer(id: &str, input: Value) -> ReplayEvent {
    converse_reply(json!({
        "output": { "message": { "role": "assistant", "content": [
            { "toolUse": { "toolUseId": id, "name": TOOL, "input": input } }
        ]}},
        "stopReason": "tool_use",
        "usage": { "inputTokens": 800, "outputTokens": 60, "totalTokens": 860 },
        "metrics": { "latencyMs": 400 }
    }))
}

fn refund() -> Value {
    json!({
        "label": "refund_request",
        "confidence": 0.92,
        "rationale": "Asks for a duplicate charge to be refunded.",
        "fields": {
            "order_id": "55120",
            "amount": { "value": 49.9, "currency": "EUR" },
            "email": "ana@example.com"
        }
    })
}

fn model(events: Vec<ReplayEvent>) -> (BedrockModel, StaticReplayClient) {
    let http = StaticReplayClient::new(events);
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .http_client(http.clone())
        .build();
    let client = aws_sdk_bedrockruntime::Client::from_conf(config);
    (BedrockModel::new(client, "test-model"), http)
}

async fn ask(model: &BedrockModel, feedback: &[Feedback]) -> Result<ModelAnswer, ModelError> {
    let workflow = handoff_workflows::catalog()
        .get("support-triage")
        .expect("shipped workflow");
    model
        .infer(&ModelRequest {
            workflow,
            text: TICKET,
            feedback,
        })
        .await
}

fn sent(http: &StaticReplayClient) -> Vec<Value> {
    http.actual_requests()
        .map(|r| serde_json::from_slice(r.body().bytes().expect("in-memory body")).unwrap())
        .collect()
}

fn feedback(text: &str, label: &str) -> Feedback {
    serde_json::from_value(json!({
        "workflow": "support-triage", "run_id": "run-1", "at": "2026-01-01T00:00:00Z",
        "text": text, "predicted_label": "billing_question", "confidence": 0.3,
        "final_label": label, "reviewer": "lead@example.com",
    }))
    .unwrap()
}

#[tokio::test]
async fn forced_tool_answer_becomes_the_model_answer() {
    let (model, http) = model(vec![tool_answer("tu-1", refund())]);
    let answer = ask(&model, &[]).await.unwrap();
    assert_eq!(answer.label, "refund_request");
    assert_eq!(answer.confidence, 0.92);
    assert_eq!(answer.tier, "bedrock");
    assert_eq!(answer.fields["order_id"], json!("55120"));
    assert_eq!(
        answer.fields["amount"],
        json!({ "value": 49.9, "currency": "EUR" })
    );
    let usage = answer.usage.expect("token usage");
    assert_eq!((usage.input_tokens, usage.output_tokens), (800, 60));
    assert_eq!(sent(&http).len(), 1);
}

#[tokio::test]
async fn request_carries_the_spec_schema_and_forces_the_tool() {
    let (model, http) = model(vec![tool_answer("tu-1", refund())]);
    ask(&model, &[]).await.unwrap();
    let body = &sent(&http)[0];
    let tools = &body["toolConfig"];
    assert_eq!(tools["toolChoice"], json!({ "tool": { "name": TOOL } }));
    let spec = &tools["tools"][0]["toolSpec"];
    assert_eq!(spec["name"], TOOL);
    let schema = &spec["inputSchema"]["json"];
    assert_eq!(
        schema["properties"]["label"]["enum"],
        json!([
            "card_problem",
            "refund_request",
            "account_access",
            "billing_question",
            "technical_issue",
            "payment_problem",
            "general_question"
        ])
    );
    assert_eq!(
        schema["required"],
        json!(["label", "confidence", "rationale"])
    );
    assert_eq!(
        schema["properties"]["fields"]["properties"]["amount"]["required"],
        json!(["value", "currency"])
    );
    let system = body["system"][0]["text"].as_str().unwrap();
    assert!(system.contains("refund_request: The customer wants money back"));
    assert!(system.contains("order_id (order_id)"));
}

#[tokio::test]
async fn off_schema_answer_gets_one_repair_turn() {
    let mut wrong = refund();
    wrong["label"] = json!("refund");
    let (model, http) = model(vec![
        tool_answer("tu-1", wrong),
        tool_answer("tu-2", refund()),
    ]);
    let answer = ask(&model, &[]).await.unwrap();
    assert_eq!(answer.label, "refund_request");
    assert_eq!(
        answer.usage.unwrap().input_tokens,
        1600,
        "both calls counted"
    );

    let bodies = sent(&http);
    assert_eq!(bodies.len(), 2);
    let messages = bodies[1]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "question, bad answer, tool error");
    assert_eq!(messages[1]["content"][0]["toolUse"]["toolUseId"], "tu-1");
    let result = &messages[2]["content"][0]["toolResult"];
    assert_eq!(result["toolUseId"], "tu-1");
    assert_eq!(result["status"], "error");
    let why = result["content"][0]["text"].as_str().unwrap();
    assert!(why.contains("/label"), "{why}");
    assert_eq!(
        bodies[1]["toolConfig"]["toolChoice"],
        json!({ "tool": { "name": TOOL } })
    );
}

#[tokio::test]
async fn off_schema_twice_is_invalid() {
    let mut wrong = refund();
    wrong["confidence"] = json!(1.7);
    wrong["fields"]["amount"] = json!("49.90 EUR");
    let (model, http) = model(vec![
        tool_answer("tu-1", wrong.clone()),
        tool_answer("tu-2", wrong),
    ]);
    match ask(&model, &[]).await {
        Err(ModelError::Invalid(why)) => {
            assert!(why.contains("/confidence"), "{why}");
            assert!(why.contains("/fields/amount"), "{why}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(sent(&http).len(), 2, "exactly one repair attempt");
}

#[tokio::test]
async fn refusal_without_a_tool_call_is_invalid() {
    let (model, http) = model(vec![converse_reply(json!({
        "output": { "message": { "role": "assistant", "content": [
            { "text": "I can't help with that." }
        ]}},
        "stopReason": "end_turn",
        "usage": { "inputTokens": 800, "outputTokens": 8, "totalTokens": 808 },
        "metrics": { "latencyMs": 200 }
    }))]);
    match ask(&model, &[]).await {
        Err(ModelError::Invalid(why)) => {
            assert!(why.starts_with("model did not answer"), "{why}");
            assert!(
                why.contains("end_turn") && why.contains("can't help"),
                "{why}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(sent(&http).len(), 1, "a refusal is not repaired");
}

#[tokio::test]
async fn similar_corrections_become_few_shot_examples() {
    let feedback = [
        feedback("The app crashes when I open settings", "technical_issue"),
        feedback(
            "Charged twice for order 99, refund one please",
            "refund_request",
        ),
    ];
    let (model, http) = model(vec![tool_answer("tu-1", refund())]);
    ask(&model, &feedback).await.unwrap();
    let body = &sent(&http)[0];
    let prompt = body["messages"][0]["content"][0]["text"].as_str().unwrap();
    let example = prompt
        .find("<example label=\"refund_request\">\nCharged twice for order 99")
        .expect("the similar correction is shown");
    assert!(example < prompt.find("<message>").unwrap());
    assert!(
        !prompt.contains("app crashes"),
        "unrelated corrections left out"
    );
}

#[tokio::test]
async fn sdk_failure_is_unavailable() {
    let (model, _http) = model(vec![]);
    assert!(matches!(
        ask(&model, &[]).await,
        Err(ModelError::Unavailable(_))
    ));
}
