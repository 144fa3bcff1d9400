use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use handoff_core::ports::Runs;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

async fn post(h: &Harness, name: &str) -> ApiGatewayV2httpResponse {
    let event: ApiGatewayV2httpRequest = sample(name);
    ingest::handle(&h.ingest(), LambdaEvent::new(event, Context::default()))
        .await
        .unwrap()
}

fn body(response: &ApiGatewayV2httpResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

#[tokio::test]
async fn every_webhook_sample_is_accepted_stored_and_queued() {
    for name in [
        "webhook-support-triage.json",
        "webhook-lead-qualification.json",
        "webhook-invoice-approval.json",
        "webhook-customer-onboarding.json",
        "webhook-revops-call-followup.json",
    ] {
        let h = Harness::new();
        let response = post(&h, name).await;
        assert_eq!(response.status_code, 202, "{name}: {:?}", response.body);
        let run_id = body(&response)["run_id"].as_str().unwrap().to_string();
        let queued = h.queue.messages.lock().unwrap().clone();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].run_id.as_str(), run_id);
        let run = h.store.get_run(&queued[0].run_id).await.unwrap().unwrap();
        assert_eq!(run.status.as_str(), "RECEIVED");
    }
}

#[tokio::test]
async fn a_redelivered_webhook_answers_with_the_same_run() {
    let h = Harness::new();
    let first = body(&post(&h, "webhook-support-triage.json").await);
    let second = post(&h, "webhook-support-triage.json").await;
    assert_eq!(second.status_code, 200);
    assert_eq!(body(&second)["run_id"], first["run_id"]);
    assert_eq!(body(&second)["duplicate"], true);
    assert_eq!(h.store.counts().0, 1);
}

#[tokio::test]
async fn a_base64_body_is_verified_on_its_decoded_bytes() {
    use base64::Engine;
    let h = Harness::new();
    let mut event: ApiGatewayV2httpRequest = sample("webhook-invoice-approval.json");
    let raw = event.body.take().unwrap();
    event.body = Some(base64::engine::general_purpose::STANDARD.encode(raw));
    event.is_base64_encoded = true;
    let response = ingest::handle(&h.ingest(), LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert_eq!(response.status_code, 202);
}

#[tokio::test]
async fn a_tampered_sample_is_refused_and_nothing_is_stored() {
    let h = Harness::new();
    let mut event: ApiGatewayV2httpRequest = sample("webhook-support-triage.json");
    event.body = event.body.map(|b| b.replace("twice", "three times"));
    let response = ingest::handle(&h.ingest(), LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert_eq!(response.status_code, 401);
    assert_eq!(body(&response)["error"], "bad_signature");
    assert_eq!(h.store.counts(), (0, 0, 0));
    assert!(h.queue.messages.lock().unwrap().is_empty());
}
