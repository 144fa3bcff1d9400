//! An invoice mailed twice: neither e-mail names its number in a field
//! ingest can key on, so the number the AI step extracts keys it, and the
//! second copy waits for a person instead of being paid again.

use std::collections::BTreeMap;

use crate::support::*;
use handoff_core::domain::*;
use handoff_core::observe::emf::Metric;
use handoff_core::ports::*;
use serde_json::{json, Value};

const INVOICES: &str = "invoice-approval";
const SUPPLIER: &str = "acme-supplies.example";

/// An e-mailed invoice from the supplier, received as run `id` (its own
/// Message-ID and wording), whose extraction read `invoice_id`; a clean
/// match the rules would pay alone.
async fn mailed_invoice(h: &Harness, id: &str, invoice_id: &str) -> RunRef {
    let run = seed::running(
        id,
        INVOICES,
        Some("billing@acme-supplies.example"),
        fixtures::t(0),
    );
    let fields = BTreeMap::from([
        (
            "external_id".to_string(),
            json!(format!("<{id}@acme-supplies.example>")),
        ),
        ("sender".to_string(), json!("billing@acme-supplies.example")),
        (
            "subject".to_string(),
            json!(format!("Invoice, sent as {id}")),
        ),
        (
            "text".to_string(),
            json!("Please find our invoice attached."),
        ),
        ("supplier".to_string(), json!(SUPPLIER)),
        ("sender_authenticated".to_string(), json!(true)),
    ]);
    h.store_run(&run, fields, json!({})).await;
    let ai = json!({
        "document": { "label": "invoice", "confidence": 0.95, "rationale": "", "tier": "embedded" },
        "invoice": {
            "invoice_id": invoice_id,
            "po_number": "PO-4471",
            "amount": { "value": 1250.0, "currency": "EUR" },
        },
        "needs_review": false,
        "review_reasons": [],
    });
    let context = json!({
        "purchase_orders": { "open_pos": ["PO-4471"], "limit": 5000.0, "currency": "EUR" },
    });
    h.store.put_slot(&run.id, &Slot::Ai, &ai).await.unwrap();
    h.store
        .put_slot(&run.id, &Slot::Context, &context)
        .await
        .unwrap();
    RunRef {
        run_id: run.id,
        workflow: INVOICES.into(),
    }
}

async fn decided(h: &Harness, run: &RunRef) -> (Value, Decision) {
    let flags = h.decide().run(run).await.unwrap();
    (flags, h.stored_decision(&run.run_id).await)
}

async fn audit_kinds(h: &Harness, run: &RunId) -> Vec<String> {
    let trail = h.store.trail(run).await.unwrap();
    trail.into_iter().map(|e| e.kind).collect()
}

#[tokio::test]
async fn the_same_invoice_mailed_twice_waits_for_a_person() {
    let h = Harness::new();
    let first = mailed_invoice(&h, "run-first", "INV-2026-0113").await;
    let again = mailed_invoice(&h, "run-again", "INV-2026-0113").await;

    let (flags, decision) = decided(&h, &first).await;
    assert_eq!(flags["needs_approval"], false, "{decision:?}");
    assert_eq!(decision.route, "auto-pay");

    let (flags, decision) = decided(&h, &again).await;
    assert_eq!(flags["needs_approval"], true, "{decision:?}");
    assert_eq!(decision.route, "auto-pay", "the rules' route is kept");
    assert_eq!(
        decision.reason,
        "possible duplicate: invoice_id and supplier match run run-first"
    );
    let trail = h.store.trail(&again.run_id).await.unwrap();
    let taken = trail
        .iter()
        .find(|e| e.kind == "dedupe.business_key_taken")
        .expect("audited");
    assert_eq!(taken.detail["run_id"], "run-first");
    assert!(!taken.detail.to_string().contains("INV-2026"), "{taken:?}");
    let hits = h
        .metrics
        .documents()
        .into_iter()
        .filter(|d| d.get(Metric::DedupeHits.name()).is_some())
        .collect::<Vec<_>>();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["run_id"], "run-first");

    // The first run is not touched by the second.
    let decision = h.stored_decision(&first.run_id).await;
    assert!(!decision.needs_approval, "{decision:?}");
    assert!(!audit_kinds(&h, &first.run_id)
        .await
        .contains(&"dedupe.business_key_taken".to_string()));
}

#[tokio::test]
async fn another_invoice_of_the_supplier_is_not_a_duplicate() {
    let h = Harness::new();
    let first = mailed_invoice(&h, "run-first", "INV-2026-0113").await;
    let next = mailed_invoice(&h, "run-next", "INV-2026-0114").await;
    decided(&h, &first).await;

    let (flags, decision) = decided(&h, &next).await;

    assert_eq!(flags["needs_approval"], false, "{decision:?}");
    assert!(!audit_kinds(&h, &next.run_id)
        .await
        .contains(&"dedupe.business_key_taken".to_string()));
}

#[tokio::test]
async fn a_retried_decide_is_not_a_duplicate_of_its_own_run() {
    let h = Harness::new();
    let first = mailed_invoice(&h, "run-first", "INV-2026-0113").await;
    decided(&h, &first).await;

    let (flags, decision) = decided(&h, &first).await;

    assert_eq!(flags["needs_approval"], false, "{decision:?}");
    assert_eq!(decision.reason, "rule `matched` acts without approval");
}

#[tokio::test]
async fn an_invoice_relayed_with_its_number_then_mailed_is_a_duplicate() {
    let h = Harness::new();
    // The relay typed the number out: ingest claimed the key with its run.
    let relayed = seed::running("run-relayed", INVOICES, None, fixtures::t(0));
    let fields = BTreeMap::from([
        ("invoice_id".to_string(), json!("INV-2026-0113")),
        ("supplier".to_string(), json!(SUPPLIER)),
    ]);
    let key = DedupeKey {
        business_key: business_key(&fields, &["invoice_id".into(), "supplier".into()]),
        ..fixtures::fresh(INVOICES, "relay-1")
    };
    let event = CanonicalEvent {
        fields,
        ..fixtures::event(INVOICES, "relay-1")
    };
    h.store
        .create_run(&relayed, &event, &key, &AuditEvent::received(&relayed, 0))
        .await
        .unwrap();
    let mailed = mailed_invoice(&h, "run-mailed", "INV-2026-0113").await;

    let (_, decision) = decided(&h, &mailed).await;

    assert!(decision.needs_approval);
    assert!(
        decision.reason.ends_with("match run run-relayed"),
        "{decision:?}"
    );
}

#[tokio::test]
async fn an_invoice_whose_number_was_not_found_is_not_keyed() {
    let h = Harness::new();
    let first = mailed_invoice(&h, "run-first", " ").await;
    let again = mailed_invoice(&h, "run-again", " ").await;
    decided(&h, &first).await;

    let (_, decision) = decided(&h, &again).await;

    // The blank number is not a key; the rules alone decide.
    assert_eq!(decision.rule.as_deref(), Some("matched"));
    assert!(!decision.reason.contains("duplicate"), "{decision:?}");
}
