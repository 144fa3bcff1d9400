use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use handoff_core::testing::*;
use handoff_core::tokens::Scope;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const LEAD: &str = "lead@support.example.com";

/// The sample event `name`, sent with `token` as its bearer.
fn event(name: &str, token: Option<&str>) -> Value {
    let mut event: Value = sample(name);
    if let Some(token) = token {
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    }
    event
}

async fn call(h: &Harness, name: &str, token: Option<&str>) -> ApiGatewayV2httpResponse {
    let out = api::handle(
        &h.read_api(),
        LambdaEvent::new(event(name, token), Context::default()),
    )
    .await
    .unwrap();
    serde_json::from_value(out).expect("an HTTP API response")
}

async fn authorize(h: &Harness, token: Option<&str>) -> Value {
    api::handle(
        &h.read_api(),
        LambdaEvent::new(event("api-authorizer.json", token), Context::default()),
    )
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
async fn the_read_samples_answer_a_reviewer_from_the_store() {
    let h = Harness::new();
    let run = h.seed_reasoned_run("webhook-support-triage.json").await;
    let token = h.token_for(LEAD, &[Scope::Read]);

    let detail = call(&h, "api-get-run.json", Some(&token)).await;
    assert_eq!(detail.status_code, 200);
    let body: Value = serde_json::from_str(&text(&detail)).unwrap();
    assert_eq!(
        body["ai"]["issue_type"]["label"], "refund_request",
        "{body}"
    );

    let list = call(&h, "api-list-runs.json", Some(&token)).await;
    assert_eq!(list.status_code, 200);
    let body: Value = serde_json::from_str(&text(&list)).unwrap();
    assert_eq!(
        body["runs"].as_array().map(Vec::len),
        Some(0),
        "the sample asks for AWAITING_APPROVAL: {body}"
    );

    // The dashboard `handoff up` serves too: outcomes, charts, the runs.
    let page = call(&h, "api-dashboard.json", Some(&token)).await;
    assert_eq!(page.status_code, 200);
    let page = text(&page);
    for part in [
        "support-triage",
        "Outcomes (last 24 hours)",
        r#"aria-label="run outcomes""#,
        "Pending approvals",
        &format!(r#"href="/runs/{}""#, run.run_id),
    ] {
        assert!(page.contains(part), "the dashboard lacks {part}: {page}");
    }
}

#[tokio::test]
async fn the_read_samples_without_a_token_show_nothing() {
    let h = Harness::new();
    let run = h.seed_sample_run("webhook-support-triage.json").await;
    h.context().run(&run).await.unwrap();
    for name in [
        "api-get-run.json",
        "api-list-runs.json",
        "api-feedback.json",
    ] {
        let response = call(&h, name, None).await;
        assert_eq!(response.status_code, 401, "{name}");
        assert!(!text(&response).contains("refund"), "{name}");
    }
}

#[tokio::test]
async fn the_authorizer_admits_a_reviewer_token_and_nothing_else() {
    let h = Harness::new();
    let token = h.token_for(LEAD, &[Scope::Read]);
    let admitted = authorize(&h, Some(&token)).await;
    assert_eq!(admitted["isAuthorized"], true, "{admitted}");
    assert_eq!(admitted["context"]["reviewer"], LEAD);

    assert_eq!(authorize(&h, None).await["isAuthorized"], false);
    assert_eq!(
        authorize(&h, Some("hrt1.e30.AAAA")).await["isAuthorized"],
        false
    );
    let no_read = h.token_for(LEAD, &[Scope::Feedback]);
    assert_eq!(
        authorize(&h, Some(&no_read)).await["isAuthorized"],
        false,
        "the sample is a read route"
    );
}
