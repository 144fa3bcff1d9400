//! The generic scheme with a signed timestamp (`timestamp_header`): the
//! digest covers `"{timestamp}.{body}"`, and a timestamp outside the
//! tolerance is refused, so a captured request cannot be replayed later.

use std::sync::Arc;

use crate::trigger_support::*;
use handoff_core::http::{HttpRequest, HttpResponse};
use handoff_core::ports::Secret;
use handoff_core::trigger::hmac_hex;
use handoff_spec::Catalog;
use serde_json::Value;

fn answer(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

const STAMPED: &str = "scheme-generic-stamped";

/// The generic-hex test workflow, with a signed timestamp header.
fn stamped_harness() -> Harness {
    let mut h = scheme_harness();
    let workflow = scheme_workflow(
        "generic-stamped",
        "scheme: generic\n    header: X-Signature\n    prefix: \"sha256=\"\n    \
         timestamp_header: X-Handoff-Timestamp\n    tolerance_seconds: 300",
        "text: $.body\n    sender: $.from",
        "delivery_id:\n    header: X-Delivery-Id",
    );
    let mut catalog: Catalog = (*h.catalog).clone();
    catalog.insert(workflow);
    h.catalog = Arc::new(catalog);
    h.secrets
        .values
        .lock()
        .unwrap()
        .insert(format!("{STAMPED}/webhook"), Secret::new(TEST_SECRET));
    h
}

/// A request signed over `"{signed_ts}.{body}"`, sent with `sent_ts`.
fn stamped_request(signed_ts: i64, sent_ts: i64) -> HttpRequest {
    let body = br#"{"body":"Where is my order?","from":"a@example.com"}"#.to_vec();
    let signed = [signed_ts.to_string().as_bytes(), b".", &body].concat();
    let mut req = HttpRequest {
        method: "POST".into(),
        path: format!("/webhooks/{STAMPED}"),
        body,
        ..Default::default()
    };
    req.path_params.insert("workflow".into(), STAMPED.into());
    for (k, v) in [
        ("content-type", "application/json".to_string()),
        (
            "x-signature",
            format!("sha256={}", hmac_hex(TEST_SECRET, &signed)),
        ),
        ("x-handoff-timestamp", sent_ts.to_string()),
        ("x-delivery-id", "d-1".to_string()),
    ] {
        req.headers.insert(k.into(), v);
    }
    req
}

fn now(h: &Harness) -> i64 {
    use handoff_core::ports::Clock;
    h.clock.now().timestamp()
}

#[tokio::test]
async fn generic_signed_timestamp_within_tolerance_is_accepted() {
    let h = stamped_harness();
    let t = now(&h) - 299;
    let response = h.ingest().handle(&stamped_request(t, t)).await;
    assert_eq!(response.status, 202, "{:?}", answer(&response));
}

#[tokio::test]
async fn generic_signed_timestamp_outside_tolerance_is_refused_as_stale() {
    let h = stamped_harness();
    for t in [now(&h) - 301, now(&h) + 301] {
        let response = h.ingest().handle(&stamped_request(t, t)).await;
        assert_eq!(response.status, 401);
        assert_eq!(answer(&response)["error"], "stale_timestamp");
    }
    assert_untouched(&h, "stale");
}

#[tokio::test]
async fn generic_timestamp_is_signed_with_the_body() {
    let h = stamped_harness();
    let t = now(&h);
    // A captured request re-sent with a fresh timestamp no longer verifies.
    let response = h.ingest().handle(&stamped_request(t - 3600, t)).await;
    assert_eq!(response.status, 401);
    assert_eq!(answer(&response)["error"], "bad_signature");
    // Without the timestamp the signature cannot be checked at all.
    let mut req = stamped_request(t, t);
    req.headers.remove("x-handoff-timestamp");
    let response = h.ingest().handle(&req).await;
    assert_eq!(response.status, 401);
    assert_eq!(answer(&response)["error"], "missing_signature");
    assert_untouched(&h, "unsigned timestamp");
}
