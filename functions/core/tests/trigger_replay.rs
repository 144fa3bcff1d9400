//! A captured signed webhook cannot be replayed: not under a new delivery
//! id (the id travels in an unsigned header), and not as a second copy of
//! one business event (an invoice) however late it comes.

use crate::trigger_support::*;
use handoff_core::http::HttpRequest;
use handoff_core::trigger::hmac_hex;
use serde_json::{json, Value};

const INVOICE: &str = "webhook-invoice-approval.json";

fn answer(response: &handoff_core::http::HttpResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

fn queued(h: &Harness) -> usize {
    h.queue.messages.lock().unwrap().len()
}

/// The invoice sample with `body` in place of its own, signed as the relay
/// signs (generic, `X-Signature: sha256=<hex>` over the body).
fn invoice_request(body: &Value, delivery_id: &str) -> HttpRequest {
    let mut req = sample_request(INVOICE);
    req.body = serde_json::to_vec(body).unwrap();
    let digest = hmac_hex(TEST_SECRET, &req.body);
    req.headers
        .insert("x-signature".into(), format!("sha256={digest}"));
    req.headers
        .insert("x-delivery-id".into(), delivery_id.into());
    req
}

/// Starts the queued runs, as the starter would: a duplicate of a run
/// that never started is queued again (see the ingest stage), which is not
/// what these tests are about.
async fn start_queued(h: &Harness) {
    let messages = h.queue.messages.lock().unwrap().clone();
    for message in messages {
        h.starter().start(&message).await.expect("started");
    }
}

fn invoice_body() -> Value {
    let req = sample_request(INVOICE);
    serde_json::from_slice(&req.body).unwrap()
}

#[tokio::test]
async fn replayed_body_under_a_new_delivery_id_is_a_duplicate_of_the_first_run() {
    let h = Harness::new();
    let first = h.ingest().handle(&sample_request(INVOICE)).await;
    assert_eq!(first.status, 202);
    start_queued(&h).await;
    let mut replay = sample_request(INVOICE);
    replay
        .headers
        .insert("x-delivery-id".into(), "attacker-chosen-id".into());
    h.clock.advance(3600);

    let again = h.ingest().handle(&replay).await;

    assert_eq!(again.status, 200, "{:?}", answer(&again));
    assert_eq!(answer(&again)["duplicate"], true);
    assert_eq!(answer(&again)["run_id"], answer(&first)["run_id"]);
    assert_eq!(queued(&h), 1, "the replay queued nothing");
    assert_eq!(h.store.counts().0, 1, "one run stored");
}

#[tokio::test]
async fn same_invoice_in_a_new_body_is_a_duplicate_forever() {
    let h = Harness::new();
    let first = h
        .ingest()
        .handle(&invoice_request(&invoice_body(), "relay-1"))
        .await;
    assert_eq!(first.status, 202);
    start_queued(&h).await;
    // The same invoice re-sent a year later through another relay message:
    // new delivery id, new message id, other wording; same number, supplier.
    let mut resent = invoice_body();
    resent["message_id"] = json!("<20270115.0001@acme-supplies.example>");
    resent["body"] = json!("Second copy: invoice INV-2026-0113, EUR 1,250.00.");
    h.clock.advance(365 * 24 * 3600);

    let again = h
        .ingest()
        .handle(&invoice_request(&resent, "relay-2"))
        .await;

    assert_eq!(again.status, 200, "{:?}", answer(&again));
    assert_eq!(answer(&again)["duplicate"], true);
    assert_eq!(answer(&again)["run_id"], answer(&first)["run_id"]);
    assert_eq!(queued(&h), 1);
    // The supplier's next invoice is another business event.
    let mut next = invoice_body();
    next["invoice_id"] = json!("INV-2026-0114");
    let second = h.ingest().handle(&invoice_request(&next, "relay-3")).await;
    assert_eq!(second.status, 202, "{:?}", answer(&second));
    assert_eq!(queued(&h), 2);
}

#[tokio::test]
async fn an_event_without_its_business_key_is_deduplicated_by_delivery_and_body_only() {
    let h = Harness::new();
    let mut body = invoice_body();
    body.as_object_mut().unwrap().remove("invoice_id");
    let first = h.ingest().handle(&invoice_request(&body, "relay-1")).await;
    assert_eq!(first.status, 202, "{:?}", answer(&first));
    body["body"] = json!("A different message from the same supplier.");

    let second = h.ingest().handle(&invoice_request(&body, "relay-2")).await;

    assert_eq!(second.status, 202, "{:?}", answer(&second));
    assert_eq!(queued(&h), 2);
    // The same bytes again are still a replay.
    let replay = h.ingest().handle(&invoice_request(&body, "relay-3")).await;
    assert_eq!(answer(&replay)["run_id"], answer(&second)["run_id"]);
    assert_eq!(queued(&h), 2);
}
