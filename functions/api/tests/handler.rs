use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

async fn call(h: &Harness, name: &str) -> ApiGatewayV2httpResponse {
    let event: ApiGatewayV2httpRequest = sample(name);
    api::handle(&h.read_api(), LambdaEvent::new(event, Context::default()))
        .await
        .unwrap()
}

fn text(response: &ApiGatewayV2httpResponse) -> String {
    match &response.body {
        Some(Body::Text(t)) => t.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn the_read_samples_answer_from_the_store() {
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    h.context().run(&run).await.unwrap();
    h.reason().run(&run).await.unwrap();

    let detail = call(&h, "api-get-run.json").await;
    assert_eq!(detail.status_code, 200);
    let body: Value = serde_json::from_str(&text(&detail)).unwrap();
    assert_eq!(
        body["ai"]["issue_type"]["label"], "refund_request",
        "{body}"
    );

    let list = call(&h, "api-list-runs.json").await;
    assert_eq!(list.status_code, 200);
    let body: Value = serde_json::from_str(&text(&list)).unwrap();
    assert_eq!(
        body["runs"].as_array().map(Vec::len),
        Some(0),
        "the sample asks for AWAITING_APPROVAL: {body}"
    );

    let page = call(&h, "api-dashboard.json").await;
    assert_eq!(page.status_code, 200);
    assert!(text(&page).contains("support-triage"));
}

#[tokio::test]
async fn the_feedback_sample_without_a_reviewer_token_is_401() {
    let h = Harness::new();
    h.seed_sample_run("webhook-support-triage.json").await;
    let response = call(&h, "api-feedback.json").await;
    assert_eq!(response.status_code, 401);
}
