use handoff_core::domain::RunRef;
use handoff_core::testing::*;
use handoff_core::trigger::hmac_hex;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

async fn act_on(h: &Harness, input: RunRef) -> Value {
    act::handle(&h.act(), LambdaEvent::new(input, Context::default()))
        .await
        .unwrap()
}

#[tokio::test]
async fn decided_actions_are_rendered_signed_and_sent_once() {
    let h = Harness::new();
    h.seed_decided_run("webhook-support-triage.json").await;
    let input: RunRef = sample("stage-act.json");
    let out = act_on(&h, input.clone()).await;
    assert_eq!(out["performed"], 2);

    let sent = h.sink.performed.lock().unwrap().clone();
    let reply = &sent[0];
    assert_eq!(
        (reply.action.as_str(), reply.kind.as_str()),
        ("reply_to_customer", "webhook")
    );
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["ticket_id"], "48213");
    let signed = format!("{}.{}", reply.headers["x-handoff-timestamp"], reply.body);
    assert_eq!(
        reply.headers["x-handoff-signature"],
        format!("v1={}", hmac_hex(TEST_SECRET, signed.as_bytes()))
    );
    let update = &sent[1];
    assert_eq!(update.method, "PUT");
    assert_eq!(
        update.target,
        "https://example.zendesk.com/api/v2/tickets/48213.json"
    );

    let again = act_on(&h, input).await;
    assert_eq!(again["skipped"], 2);
    assert_eq!(h.sink.performed.lock().unwrap().len(), 2);
}
