//! What the ingest function logs in the Lambda JSON format: never the
//! webhook body, its signature or the secret, accepted or refused, at any
//! level.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

/// Posts the event with every log line captured, down to `trace`.
async fn logged(h: &Harness, event: ApiGatewayV2httpRequest) -> (i64, String) {
    let lines = LogLines::default();
    let writer = lines.clone();
    let subscriber = handoff_aws::lambda::json_subscriber("trace", move || writer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let response = ingest::handle(&h.ingest(), LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    let text = lines.text();
    (response.status_code, text)
}

fn secrets_of(event: &ApiGatewayV2httpRequest) -> Vec<String> {
    let body: Value = serde_json::from_str(event.body.as_deref().unwrap()).unwrap();
    vec![
        body["ticket"]["description"].as_str().unwrap().to_string(),
        body["ticket"]["requester"]["email"]
            .as_str()
            .unwrap()
            .to_string(),
        event.headers["x-zendesk-webhook-signature"]
            .to_str()
            .unwrap()
            .to_string(),
        TEST_SECRET.to_string(),
    ]
}

fn assert_never_logged(text: &str, secrets: &[String]) {
    assert!(!text.is_empty(), "the handler logged nothing at all");
    for line in text.lines() {
        let _: Value = serde_json::from_str(line).expect("each log line is JSON");
        for secret in secrets {
            assert!(!line.contains(secret.as_str()), "`{secret}` in {line}");
        }
    }
}

#[tokio::test]
async fn an_accepted_webhook_logs_its_run_but_not_its_body_or_signature() {
    let h = Harness::new();
    let event: ApiGatewayV2httpRequest = sample("webhook-support-triage.json");
    let secrets = secrets_of(&event);
    let (status, text) = logged(&h, event).await;
    assert_eq!(status, 202);
    assert!(text.contains("run accepted"), "{text}");
    assert_never_logged(&text, &secrets);
}

#[tokio::test]
async fn a_refused_webhook_logs_why_but_not_its_body_or_signature() {
    let h = Harness::new();
    let mut event: ApiGatewayV2httpRequest = sample("webhook-support-triage.json");
    let secrets = secrets_of(&event);
    let body = event.body.take().unwrap().replace("twice", "thrice");
    event.body = Some(body);
    let (status, text) = logged(&h, event).await;
    assert_eq!(status, 401);
    assert!(text.contains("webhook refused"), "{text}");
    let mut secrets = secrets;
    secrets[0] = secrets[0].replace("twice", "thrice");
    assert_never_logged(&text, &secrets);
}
