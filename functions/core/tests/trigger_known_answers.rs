//! `trigger::verify` against expectations computed outside our Rust:
//! events/known-answers.json, written by scripts/make-events.py with Python's
//! hmac and the vendors' published examples. Then every scheme's signed
//! sample through the front door, with the delivery id each scheme names.

use std::collections::{BTreeMap, BTreeSet};

use crate::trigger_support::*;
use chrono::{TimeZone, Utc};
use handoff_core::http::HttpRequest;
use handoff_core::ports::{Clock, Runs, Secret};
use handoff_core::trigger;
use handoff_spec::SignatureSpec;
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    source: String,
    signature: SignatureSpec,
    secret: CaseSecret,
    request: CaseRequest,
    now: i64,
    expected_valid: bool,
    expected_error: Option<String>,
}

#[derive(Deserialize)]
struct CaseSecret {
    current: String,
    previous: Option<String>,
}

#[derive(Deserialize)]
struct CaseRequest {
    method: String,
    path: String,
    query: String,
    headers: BTreeMap<String, String>,
    body: String,
}

fn table() -> Vec<Case> {
    serde_json::from_str::<Table>(&repo_file("events/known-answers.json"))
        .expect("events/known-answers.json")
        .cases
}

#[test]
fn every_known_answer_matches() {
    let cases = table();
    let mut failures = Vec::new();
    for case in &cases {
        let req = HttpRequest {
            method: case.request.method.clone(),
            path: case.request.path.clone(),
            raw_query: case.request.query.clone(),
            headers: case
                .request
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            body: case.request.body.as_bytes().to_vec(),
            ..Default::default()
        };
        let secret = Secret {
            current: case.secret.current.clone(),
            previous: case.secret.previous.clone(),
        };
        let now = Utc.timestamp_opt(case.now, 0).unwrap();
        let got = trigger::verify(&case.signature, &secret, &req, now);
        let ok = match (&got, case.expected_valid) {
            (Ok(()), true) => true,
            (Err(e), false) => case.expected_error.as_deref() == Some(e.code()),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {}, got {:?}",
                case.name,
                case.expected_error.as_deref().unwrap_or("valid"),
                got.map_err(|e| e.code())
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_every_scheme_and_every_kind_of_case() {
    let cases = table();
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let schemes: BTreeSet<String> = cases
        .iter()
        .map(|c| format!("{:?}", c.signature.scheme))
        .collect();
    assert_eq!(schemes.len(), 7, "{schemes:?}");
    let generic_encodings: BTreeSet<String> = cases
        .iter()
        .filter_map(|c| c.signature.encoding.as_ref().map(|e| format!("{e:?}")))
        .collect();
    assert_eq!(generic_encodings.len(), 2, "hex and base64");
    for kind in [
        "current secret",
        "body changed",
        "digest character changed",
        "another secret",
        "previous secret during rotation",
        "after rotation ended",
        "301 s ago",
        "301 s in the future",
        "two v1 values",
    ] {
        assert!(
            cases.iter().any(|c| c.name.contains(kind)),
            "no case for {kind}"
        );
    }
    assert!(cases.iter().filter(|c| c.source == "vendor-docs").count() >= 2);
}

#[tokio::test]
async fn every_scheme_sample_is_accepted_with_its_delivery_id() {
    let expected = [
        ("github", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("stripe", "evt_1QxYz2LkdIwHu7ixAbCdEf12"),
        // The event id, not X-Slack-Retry-Num: a retry is the same event.
        ("slack", "Ev0PV52K25"),
        ("shopify", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        ("zendesk", "inv-9921"),
        ("hubspot", "1867231457"),
        ("generic-hex", "relay-20260115-0107"),
        ("generic-base64", "relay-20260115-0108"),
    ];
    let h = scheme_harness();
    for (scheme, delivery) in expected {
        let response = h.ingest().handle(&scheme_request(scheme)).await;
        let body = response.body_json().unwrap();
        assert_eq!(response.status, 202, "{scheme}: {body}");
        let id = read_back::accepted_run_id(&response);
        let run = h.store.get_run(&id).await.unwrap().unwrap();
        assert_eq!(run.delivery_id, delivery, "{scheme}");
        assert_eq!(run.workflow, format!("scheme-{scheme}"));
    }
    assert_eq!(h.queue.messages.lock().unwrap().len(), expected.len());
}

#[tokio::test]
async fn a_slack_slash_command_is_read_from_its_form_body() {
    let h = scheme_harness();
    let response = h.ingest().handle(&scheme_request("slack-command")).await;
    assert_eq!(response.status, 202, "{:?}", response.body_json());
    let id = read_back::accepted_run_id(&response);
    let event = h.store.get_event(&id).await.unwrap().unwrap();
    assert_eq!(
        event.fields["text"],
        "customer cannot log in after password reset"
    );
    assert_eq!(event.fields["command"], "/triage");
    // A slash command carries no event id: the verified body's hash is the key.
    assert!(
        event.delivery_id.starts_with("sha256:"),
        "{}",
        event.delivery_id
    );
}

#[tokio::test]
async fn a_stripe_retry_three_days_later_is_still_a_duplicate() {
    let h = scheme_harness();
    let first = h.ingest().handle(&scheme_request("stripe")).await;
    assert_eq!(first.status, 202);
    let message = h.queue.messages.lock().unwrap()[0].clone();
    h.starter().start(&message).await.unwrap();
    // Stripe re-signs each attempt with a fresh t=; the event id is the key.
    h.clock.advance(3 * 24 * 3600);
    let mut retry = scheme_request("stripe");
    let t = Clock::now(h.clock.as_ref()).timestamp().to_string();
    let signed = [t.as_bytes(), b".", retry.body.as_slice()].concat();
    retry.headers.insert(
        "stripe-signature".into(),
        format!("t={t},v1={}", trigger::hmac_hex(TEST_SECRET, &signed)),
    );
    let again = h.ingest().handle(&retry).await;
    assert_eq!(again.status, 200, "{:?}", again.body_json());
    assert_eq!(
        again.body_json().unwrap()["run_id"],
        first.body_json().unwrap()["run_id"]
    );
    assert_eq!(h.store.counts().0, 1);
    assert_eq!(h.queue.messages.lock().unwrap().len(), 1);
}
