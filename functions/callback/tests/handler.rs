use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use handoff_core::domain::{Approval, ApprovalId, ApprovalStatus, RunId};
use handoff_core::links;
use handoff_core::ports::{Approvals, Secret};
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};

const APPROVAL: &str = "3f2a9c1d5e7b4a6c8d0e1f2a3b4c5d6e";
const REVIEWER: &str = "lead@support.example.com";

/// The sample's approval, pending, and the sample request re-signed with
/// the harness's link secret (the committed sample carries no valid sig).
async fn signed(h: &Harness, name: &str) -> ApiGatewayV2httpRequest {
    h.seed_decided_run("webhook-support-triage.json").await;
    let now = handoff_core::ports::Clock::now(h.clock.as_ref());
    let expires = now + chrono::Duration::hours(4);
    h.store
        .put_approval(&Approval {
            id: ApprovalId(APPROVAL.into()),
            run_id: RunId(SAMPLE_RUN_ID.into()),
            workflow: "support-triage".into(),
            task_token: "token-1".into(),
            reviewers: vec![REVIEWER.into(), "billing@support.example.com".into()],
            required: 1,
            status: ApprovalStatus::Pending,
            escalation: false,
            created_at: now,
            expires_at: expires,
            votes: vec![],
            decided_at: None,
        })
        .await
        .unwrap();
    let mut event: ApiGatewayV2httpRequest = sample(name);
    let query = links::link_query(
        &Secret::new(TEST_LINK_SECRET),
        &ApprovalId(APPROVAL.into()),
        REVIEWER,
        expires.timestamp(),
    );
    event.raw_query_string = Some(query.clone());
    event.query_string_parameters = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), urlencoding::decode(v).unwrap().into_owned())
        })
        .collect::<std::collections::HashMap<_, _>>()
        .into();
    event
}

/// The page the callback serves for the signed sample `name`, after
/// checking it answered 200.
async fn page(h: &Harness, name: &str) -> String {
    let event = signed(h, name).await;
    let response = callback::handle(&h.callback(), LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    let page = match response.body {
        Some(Body::Text(page)) => page,
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(response.status_code, 200, "{page}");
    page
}

#[tokio::test]
async fn the_get_sample_shows_the_page_and_decides_nothing() {
    let h = Harness::new();
    let page = page(&h, "approval-get.json").await;
    assert!(page.contains("refund_request"), "{page}");
    assert!(h.executions.answers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_post_sample_approves_and_resumes_the_execution() {
    let h = Harness::new();
    page(&h, "approval-post.json").await;
    let answers = h.executions.answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 1);
    let (token, outcome) = &answers[0];
    assert_eq!(token, "token-1");
    assert_eq!(outcome.as_ref().unwrap()["decision"], "approved");
}

#[tokio::test]
async fn the_schedule_redelivers_a_decision_the_execution_did_not_take() {
    let h = Harness::new();
    let event = signed(&h, "approval-post.json").await;
    *h.executions.unavailable.lock().unwrap() = 3;
    let as_value = serde_json::to_value(event).unwrap();
    let response = callback::handle_event(
        &h.callback(),
        LambdaEvent::new(as_value, Context::default()),
    )
    .await
    .unwrap();
    assert_eq!(response["statusCode"], 503, "{response}");
    assert!(h.executions.answers.lock().unwrap().is_empty());

    h.clock.advance(60);
    let sweep = callback::handle_event(
        &h.callback(),
        LambdaEvent::new(
            serde_json::json!({"kind": "redeliver_due"}),
            Context::default(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(sweep["delivered"], 1, "{sweep}");
    let answers = h.executions.answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].1.as_ref().unwrap()["decision"], "approved");
}
