//! `kind: http` context lookups through [`HttpFetcher`] against a loopback
//! upstream standing in for a CRM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use handoff_aws::http_fetch::HttpFetcher;
use handoff_core::domain::RunRef;
use handoff_core::ports::{RunData, Slot};
use handoff_core::stages::StageError;
use handoff_core::testing::Harness;
use serde_json::{json, Value};

use crate::support::*;

/// The CRM: a customer by e-mail (bearer token required), a slow endpoint,
/// a large one, and one that fails once.
async fn crm() -> Server {
    Server::start(|req, before| match req.path.as_str() {
        "/customers/ada@example.com" => {
            if req.headers.get("authorization").map(String::as_str)
                != Some(&format!("Bearer {CRM_TOKEN}"))
            {
                return Reply::status(401);
            }
            Reply::json(
                200,
                json!({ "data": { "plan": "enterprise", "ltv": 12500, "owner": { "name": "Grace" } } }),
            )
        }
        "/slow" => Reply {
            delay: Duration::from_secs(3),
            ..Reply::json(200, json!({ "late": true }))
        },
        "/big" => Reply::json(
            200,
            json!({ "notes": "n".repeat(20_000), "orders": (0..500).collect::<Vec<_>>() }),
        ),
        "/flaky" if before == 0 => Reply::status(503),
        "/flaky" => Reply::json(200, json!({ "ok": true })),
        _ => Reply::status(404),
    })
    .await
}

fn lookup(name: &str, url: &str, rest: &str) -> String {
    format!("    - {{ name: {name}, kind: http, url: \"{url}\", {rest} }}\n")
}

/// The context section with these lookups.
fn lookups(entries: &[String]) -> String {
    format!("  lookups:\n{}", entries.concat())
}

/// The customer lookup by the sender's address (`sender`, a template
/// expression), with the CRM's bearer token and `more` settings.
fn customer(crm: &Server, sender: &str, more: &str) -> String {
    lookup(
        "customer",
        &format!("{}/customers/{{{{ {sender} }}}}", crm.url),
        &format!("auth: {{ secret: integration/crm, prefix: 'Bearer ' }}{more}"),
    )
}

/// The lookup of the slow endpoint, given up on after 200 ms.
fn slow(crm: &Server, on_failure: &str) -> String {
    lookup(
        "slow",
        &format!("{}/slow", crm.url),
        &format!("timeout_ms: 200, on_failure: {on_failure}"),
    )
}

const NO_ACTIONS: &str = "  []";

async fn context_of(h: &Harness, run: &RunRef) -> Value {
    h.store
        .get_slot(&run.run_id, &Slot::Context)
        .await
        .unwrap()
        .expect("context stored")
}

/// A harness whose workflow has `context` and fetches over HTTP, with a
/// run from ada@example.com seeded as `run_id`.
async fn seeded(context: &str, run_id: &str) -> (Harness, RunRef) {
    let mut h = harness(context, NO_ACTIONS, &[], "");
    h.fetcher = Arc::new(HttpFetcher::new(local_policy(&h)).unwrap());
    let run = seed_run(&h, run_id, "ada@example.com").await;
    (h, run)
}

#[tokio::test]
async fn a_200_lookup_is_mapped_into_context() {
    let crm = crm().await;
    let context = lookups(&[customer(
        &crm,
        "event.sender | urlencode",
        ", fields: { plan: $.data.plan, ltv: $.data.ltv, owner: $.data.owner.name }",
    )]);
    let (h, run) = seeded(&context, "run-lookup-200").await;
    h.context().run(&run).await.unwrap();
    assert_eq!(
        context_of(&h, &run).await,
        json!({ "customer": { "plan": "enterprise", "ltv": 12500, "owner": "Grace" } })
    );
    let hits = crm.hits("/customers/ada@example.com");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].headers["accept"], "application/json");
    let finished = audit_of(&h, &run, "context.finished").await;
    assert_eq!(finished[0]["failed"], json!([]));
    assert!(finished[0]["estimated_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_timed_out_lookup_with_continue_is_recorded_and_skipped() {
    let crm = crm().await;
    let (h, run) = seeded(&lookups(&[slow(&crm, "continue")]), "run-lookup-continue").await;
    let t0 = Instant::now();
    h.context().run(&run).await.expect("continue goes on");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(context_of(&h, &run).await, json!({}));
    let failed = audit_of(&h, &run, "context.lookup_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["lookup"], "slow");
    assert_eq!(failed[0]["on_failure"], "continue");
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("timed out"),
        "{failed:?}"
    );
    let finished = audit_of(&h, &run, "context.finished").await;
    assert_eq!(finished[0]["failed"][0]["lookup"], "slow");
}

#[tokio::test]
async fn a_timed_out_lookup_with_fail_fails_the_stage() {
    let crm = crm().await;
    let (h, run) = seeded(&lookups(&[slow(&crm, "fail")]), "run-lookup-fail").await;
    let err = h.context().run(&run).await.unwrap_err();
    assert!(
        matches!(&err, StageError::Lookup { lookup, .. } if lookup == "slow"),
        "{err:?}"
    );
    assert_eq!(err.name(), "Handoff.LookupFailed");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        h.store
            .get_slot(&run.run_id, &Slot::Context)
            .await
            .unwrap()
            .is_none(),
        "a failed stage stores no context"
    );
    assert_eq!(
        audit_of(&h, &run, "context.lookup_failed").await[0]["on_failure"],
        "fail"
    );
}

#[tokio::test]
async fn budget_overflow_is_truncated_and_audited() {
    let crm = crm().await;
    let context = format!(
        "  max_bytes: 3000\n{}",
        lookups(&[
            lookup("big", &format!("{}/big", crm.url), "max_bytes: 4000"),
            customer(&crm, "event.sender", ""),
        ])
    );
    let (h, run) = seeded(&context, "run-lookup-budget").await;
    h.context().run(&run).await.unwrap();
    let stored = context_of(&h, &run).await;
    let size = |v: &Value| serde_json::to_vec(v).unwrap().len();
    assert!(size(&stored) <= 3000, "total {} bytes", size(&stored));
    assert_eq!(
        stored["customer"]["data"]["plan"], "enterprise",
        "the small lookup is kept whole"
    );
    assert!(stored["big"]["notes"].as_str().unwrap().ends_with('…'));

    let truncated = audit_of(&h, &run, "context.truncated").await;
    let cuts = truncated[0]["truncated"].as_array().unwrap();
    let per_lookup = cuts.iter().find(|c| c["budget"] == "lookup").unwrap();
    assert_eq!(per_lookup["lookup"], "big");
    assert!(per_lookup["from_bytes"].as_u64().unwrap() > 20_000);
    assert!(per_lookup["to_bytes"].as_u64().unwrap() <= 4000);
    let total = cuts.iter().find(|c| c["budget"] == "total").unwrap();
    assert_eq!(total["lookup"], "big");
    assert_eq!(total["limit"], 3000);
    let finished = &audit_of(&h, &run, "context.finished").await[0];
    assert_eq!(finished["bytes"].as_u64().unwrap() as usize, size(&stored));

    // What the run store keeps for a retry is already cut to the lookup's budget.
    let cached = h
        .store
        .get_slot(&run.run_id, &Slot::Lookup("big".into()))
        .await
        .unwrap()
        .unwrap();
    assert!(size(&cached["value"]) <= 4000);
    assert!(cached["bytes"].as_u64().unwrap() > 20_000);
}

#[tokio::test]
async fn the_token_budget_caps_the_context_too() {
    let crm = crm().await;
    let context = format!(
        "  max_bytes: 100000\n  max_tokens: 250\n{}",
        lookups(&[lookup(
            "big",
            &format!("{}/big", crm.url),
            "on_failure: fail"
        )])
    );
    let (h, run) = seeded(&context, "run-lookup-tokens").await;
    h.context().run(&run).await.unwrap();
    let finished = &audit_of(&h, &run, "context.finished").await[0];
    assert!(finished["bytes"].as_u64().unwrap() <= 1000, "{finished}");
    assert!(finished["estimated_tokens"].as_u64().unwrap() <= 250);
    assert_eq!(finished["truncated"][0]["limit"], 1000);
}

#[tokio::test]
async fn a_retried_stage_does_not_call_twice() {
    let crm = crm().await;
    let context = lookups(&[
        customer(&crm, "event.sender", ", fields: { plan: $.data.plan }"),
        lookup("flaky", &format!("{}/flaky", crm.url), "on_failure: fail"),
    ]);
    let (h, run) = seeded(&context, "run-lookup-retry").await;
    let first = h.context().run(&run).await.unwrap_err();
    assert!(first.to_string().contains("status 503"), "{first}");
    h.context().run(&run).await.expect("the retry succeeds");
    assert_eq!(
        crm.hits("/customers/ada@example.com").len(),
        1,
        "the lookup that answered is not called again"
    );
    assert_eq!(crm.hits("/flaky").len(), 2, "the failed one is");
    assert_eq!(
        context_of(&h, &run).await,
        json!({ "customer": { "plan": "enterprise" }, "flaky": { "ok": true } })
    );
    let finished = &audit_of(&h, &run, "context.finished").await[0];
    assert_eq!(finished["cached"], json!(["customer"]));

    // A third run of a finished stage calls nothing at all.
    h.context().run(&run).await.unwrap();
    assert_eq!(crm.seen.lock().unwrap().len(), 3);
}
