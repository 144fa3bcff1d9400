//! The stages chained as the state machine chains them, on in-memory ports.

use crate::support::*;
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_core::stages::finalize::FinalizeInput;
use serde_json::{json, Value};

/// Accepts a sample and runs it through context, reason and decide; returns
/// the run and what reason and decide answered.
async fn through_decide(h: &Harness, sample: &str) -> (RunRef, Value, Value) {
    let run = h.accept(sample).await;
    h.context().run(&run).await.unwrap();
    let ai = h.reason().run(&run).await.unwrap();
    let flags = h.decide().run(&run).await.unwrap();
    (run, ai, flags)
}

#[tokio::test]
async fn support_refund_is_classified_routed_and_held_for_approval() {
    let h = Harness::new();
    let (run, ai, flags) = through_decide(&h, "webhook-support-triage.json").await;
    assert_eq!(ai["label"], "refund_request", "{ai}");
    assert_eq!(flags["needs_approval"], true);
    assert_eq!(flags["approval_timeout_seconds"], 14400);

    let stored = h.stored_ai(&run.run_id).await;
    assert_eq!(
        stored.outputs["details"]["amount"],
        json!({ "value": 129.0, "currency": "EUR" })
    );
    let reply = stored.text("reply").unwrap();
    assert!(reply.contains("Hi Dana Whitfield"), "{reply}");
    let decision = h.stored_decision(&run.run_id).await;
    assert_eq!(decision.rule.as_deref(), Some("large-refund"));
    assert_eq!(decision.route, "billing-team");
}

#[tokio::test]
async fn hot_enterprise_lead_needs_a_sales_lead() {
    let h = Harness::new();
    let (_, ai, flags) = through_decide(&h, "webhook-lead-qualification.json").await;
    assert_eq!(ai["label"], "ready_to_buy", "{ai}");
    assert_eq!(flags["route"], "enterprise-sales");
    assert_eq!(flags["needs_approval"], true);
}

#[tokio::test]
async fn matched_invoice_is_paid_without_approval_and_completes() {
    let h = Harness::new();
    let (run, ai, flags) = through_decide(&h, "webhook-invoice-approval.json").await;
    assert_eq!(ai["label"], "invoice", "{ai}");
    assert_eq!(flags["route"], "auto-pay", "{flags}");
    assert_eq!(flags["needs_approval"], false);

    let acted = h.act().run(&run).await.unwrap();
    assert_eq!(acted["performed"], 2);
    let performed = h.sink.performed.lock().unwrap().clone();
    assert_eq!(performed[0].action, "schedule_payment");
    let body: Value = serde_json::from_str(&performed[0].body).unwrap();
    assert_eq!(body["po"], "PO-4471");
    assert_eq!(body["amount"]["value"], 1250.0);
    assert_eq!(
        performed[0].headers["idempotency-key"],
        format!("{}:schedule_payment", run.run_id)
    );

    let done = h
        .finalize()
        .run(&FinalizeInput {
            run_id: run.run_id.clone(),
            workflow: run.workflow.clone(),
            failure: None,
        })
        .await
        .unwrap();
    assert_eq!(done["status"], "COMPLETED");
    let trail: Vec<String> = h
        .store
        .trail(&run.run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        "run.received",
        "start.finished",
        "context.finished",
        "reason.finished",
        "decide.finished",
        "action.performed",
        "act.finished",
        "finalize.finished",
    ] {
        assert!(
            trail.contains(&kind.to_string()),
            "missing {kind} in {trail:?}"
        );
    }
}

#[tokio::test]
async fn a_retried_act_stage_performs_nothing_twice() {
    let h = Harness::new();
    let (run, _, _) = through_decide(&h, "webhook-invoice-approval.json").await;
    h.act().run(&run).await.unwrap();
    let again = h.act().run(&run).await.unwrap();
    assert_eq!(again["performed"], 0);
    assert_eq!(again["skipped"], 2);
    assert_eq!(h.sink.performed.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failure_is_recorded_and_final() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    let failure: FinalizeInput = serde_json::from_value(json!({
        "run_id": run.run_id, "workflow": run.workflow,
        "failure": { "Error": "Handoff.ActionFailed", "Cause": "receiver said 400" }
    }))
    .unwrap();
    let done = h.finalize().run(&failure).await.unwrap();
    assert_eq!(done["status"], "FAILED");
    let stored = h.store.get_run(&run.run_id).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    assert!(stored.summary.error.unwrap().contains("receiver said 400"));
    // A second finalize (a retried task) changes nothing.
    let again = h
        .finalize()
        .run(&FinalizeInput {
            failure: None,
            ..failure
        })
        .await
        .unwrap();
    assert_eq!(again["status"], "FAILED");
}

/// Claim check: what travels between states stays small however large the
/// webhook body is.
#[tokio::test]
async fn state_payloads_stay_under_8_kib_for_a_200_kib_body() {
    use handoff_core::trigger::hmac_hex;
    let h = Harness::new();
    let filler = "lorem ipsum dolor sit amet ".repeat(200 * 1024 / 27);
    let body = json!({
        "message_id": "<big@acme-supplies.example>",
        "from": "billing@acme-supplies.example",
        "subject": "Invoice INV-2026-0999 for PO-4480",
        "supplier": "acme-supplies",
        "body": format!("Invoice INV-2026-0999 for PO-4480, total EUR 300.00. {filler}"),
    })
    .to_string();
    assert!(body.len() >= 200 * 1024);
    let mut req = sample_request("webhook-invoice-approval.json");
    req.headers.insert(
        "x-signature".into(),
        format!("sha256={}", hmac_hex(TEST_SECRET, body.as_bytes())),
    );
    req.headers.insert("x-delivery-id".into(), "big-one".into());
    req.body = body.into_bytes();
    let response = h.ingest().handle(&req).await;
    assert_eq!(response.status, 202);
    let message = h.queue.messages.lock().unwrap()[0].clone();

    let mut state = json!({ "run_id": message.run_id, "workflow": message.workflow });
    let run = RunRef {
        run_id: message.run_id.clone(),
        workflow: message.workflow.clone(),
    };
    h.starter().start(&message).await.unwrap();
    let outputs = [
        ("context", h.context().run(&run).await.unwrap()),
        ("reason", h.reason().run(&run).await.unwrap()),
        ("decide", h.decide().run(&run).await.unwrap()),
        ("act", h.act().run(&run).await.unwrap()),
    ];
    for (slot, output) in outputs {
        state[slot] = json!({ "result": output });
        let size = serde_json::to_vec(&state).unwrap().len();
        assert!(size < 8 * 1024, "state after {slot} is {size} bytes");
    }
    assert!(
        serde_json::to_vec(&serde_json::to_value(&message).unwrap())
            .unwrap()
            .len()
            < 8 * 1024
    );
}

/// The stored AI slot and decision of a run through context, reason and decide.
async fn reasoned_and_decided(h: &Harness, sample: &str) -> (AiResult, Decision) {
    let (run, _, _) = through_decide(h, sample).await;
    (
        h.stored_ai(&run.run_id).await,
        h.stored_decision(&run.run_id).await,
    )
}

#[tokio::test]
async fn a_kickoff_with_a_hard_deadline_and_no_sso_holds_the_customer_update() {
    let h = Harness::new();
    let (ai, decision) = reasoned_and_decided(&h, "webhook-customer-onboarding.json").await;
    assert_eq!(ai.outputs["risk"]["label"], "high", "{:#?}", ai.outputs);
    assert_eq!(ai.outputs["plan"]["go_live_date"], "2026-03-02");
    assert_eq!(ai.outputs["summary"]["extractive"], true);
    let update = ai.text("update").unwrap();
    assert!(update.starts_with("Hi Aisha Khan"), "{update}");
    assert!(update.contains("Target go-live: 2026-03-02."), "{update}");
    assert_eq!(decision.rule.as_deref(), Some("high-risk"));
    assert_eq!(decision.route, "onboarding-escalations");
    assert!(decision.needs_approval);
    assert!(decision
        .actions
        .contains(&"send_customer_update".to_string()));
}

#[tokio::test]
async fn a_renewal_call_waits_for_approval_before_the_follow_up_and_the_deal_update() {
    let h = Harness::new();
    let (ai, decision) = reasoned_and_decided(&h, "webhook-revops-call-followup.json").await;
    assert_eq!(
        ai.outputs["signal"]["label"], "renewal",
        "{:#?}",
        ai.outputs
    );
    assert_eq!(
        ai.outputs["crm"]["amount"],
        json!({ "value": 64000.0, "currency": "USD" })
    );
    assert_eq!(ai.outputs["crm"]["close_date"], "2026-02-27");
    let followup = ai.text("followup").unwrap();
    assert!(followup.starts_with("Hi Priya"), "{followup}");
    assert_eq!(decision.rule.as_deref(), Some("renewal"));
    assert!(decision.needs_approval);
    assert_eq!(
        decision.actions,
        ["send_followup", "update_deal", "notify_deal_owner"]
    );
}
