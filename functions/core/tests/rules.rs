//! Rule order and approval decisions of the three seed workflows, driven
//! through the pure `decide` with hand-made AI output and context.

use handoff_core::domain::AiResult;
use handoff_core::stages::decide::decide;
use handoff_spec::{Priority, RuleInput, TaskKind, Workflow};
use serde_json::{json, Value};

struct Case {
    workflow: &'static str,
    label: &'static str,
    confidence: f64,
    fields: Value,
    event: Value,
    context: Value,
    rule: &'static str,
    route: &'static str,
    approval: bool,
}

/// The primary classify task answered with `label`; the first extract
/// task with `fields`.
fn ai(workflow: &Workflow, label: &str, confidence: f64, fields: &Value) -> AiResult {
    let reason = &workflow.spec.reason;
    let (task, classify) = reason.primary().unwrap();
    let low = confidence < classify.review_below;
    let mut result = AiResult {
        needs_review: low,
        review_reasons: if low {
            vec!["low confidence".into()]
        } else {
            vec![]
        },
        ..AiResult::default()
    };
    result.outputs.insert(
        task.name.clone(),
        json!({ "label": label, "confidence": confidence, "rationale": "", "tier": "embedded" }),
    );
    if let Some(extract) = reason
        .tasks()
        .iter()
        .find(|t| matches!(t.kind, TaskKind::Extract(_)))
    {
        result.outputs.insert(extract.name.clone(), fields.clone());
    }
    result
}

fn run(case: &Case) {
    let workflow = handoff_workflows::catalog().get(case.workflow).unwrap();
    let result = ai(workflow, case.label, case.confidence, &case.fields);
    let ai_json = serde_json::to_value(&result).unwrap();
    let input = RuleInput {
        event: &case.event,
        ai: &ai_json,
        context: &case.context,
    };
    let d = decide(workflow, &result, &input).unwrap();
    let what = format!("{} / {} / {}", case.workflow, case.label, case.fields);
    assert_eq!(d.rule.as_deref(), Some(case.rule), "{what}");
    assert_eq!(d.route, case.route, "{what}");
    assert_eq!(d.needs_approval, case.approval, "{what}: {}", d.reason);
}

fn plan(tier: u8) -> Value {
    json!({ "plan": { "tier": tier, "first_response_hours": 4 }, "history": { "count": 0 } })
}

#[test]
fn support_triage_rules_in_order() {
    let cases = [
        Case {
            workflow: "support-triage",
            label: "refund_request",
            confidence: 0.9,
            fields: json!({ "amount": { "value": 250.0, "currency": "EUR" } }),
            event: json!({}),
            context: plan(3),
            rule: "large-refund",
            route: "billing-team",
            approval: true,
        },
        Case {
            workflow: "support-triage",
            label: "refund_request",
            confidence: 0.9,
            fields: json!({ "amount": { "value": 20.0, "currency": "EUR" } }),
            event: json!({}),
            context: plan(3),
            rule: "refund",
            route: "billing-team",
            approval: true,
        },
        Case {
            workflow: "support-triage",
            label: "card_problem",
            confidence: 0.9,
            fields: json!({}),
            event: json!({}),
            context: plan(1),
            rule: "card-trouble",
            route: "cards-team",
            approval: false,
        },
        // An enterprise customer's question is not a card problem: the tier rule comes next.
        Case {
            workflow: "support-triage",
            label: "billing_question",
            confidence: 0.9,
            fields: json!({}),
            event: json!({}),
            context: plan(1),
            rule: "enterprise-first",
            route: "enterprise-desk",
            approval: false,
        },
        Case {
            workflow: "support-triage",
            label: "technical_issue",
            confidence: 0.9,
            fields: json!({}),
            event: json!({}),
            context: plan(3),
            rule: "default",
            route: "general-support",
            approval: false,
        },
        // Below the review threshold the AI step does not guess: a person decides.
        Case {
            workflow: "support-triage",
            label: "technical_issue",
            confidence: 0.2,
            fields: json!({}),
            event: json!({}),
            context: plan(3),
            rule: "default",
            route: "general-support",
            approval: true,
        },
    ];
    cases.iter().for_each(run);
}

#[test]
fn lead_qualification_rules_in_order() {
    let seg = |s: &str, w: u8| json!({ "segment": { "segment": s, "weight": w } });
    let cases = [
        Case {
            workflow: "lead-qualification",
            label: "ready_to_buy",
            confidence: 0.8,
            fields: json!({}),
            event: json!({}),
            context: seg("enterprise", 4),
            rule: "enterprise-deal",
            route: "enterprise-sales",
            approval: true,
        },
        Case {
            workflow: "lead-qualification",
            label: "ready_to_buy",
            confidence: 0.8,
            fields: json!({}),
            event: json!({}),
            context: seg("smb", 1),
            rule: "hot-lead",
            route: "sales",
            approval: false,
        },
        Case {
            workflow: "lead-qualification",
            label: "evaluating",
            confidence: 0.8,
            fields: json!({}),
            event: json!({}),
            context: seg("mid_market", 3),
            rule: "evaluating",
            route: "solutions-engineering",
            approval: false,
        },
        Case {
            workflow: "lead-qualification",
            label: "evaluating",
            confidence: 0.8,
            fields: json!({}),
            event: json!({}),
            context: seg("smb", 1),
            rule: "nurture",
            route: "marketing-nurture",
            approval: false,
        },
        Case {
            workflow: "lead-qualification",
            label: "support_request",
            confidence: 0.8,
            fields: json!({}),
            event: json!({}),
            context: seg("smb", 1),
            rule: "misrouted-support",
            route: "support",
            approval: false,
        },
        Case {
            workflow: "lead-qualification",
            label: "not_a_lead",
            confidence: 0.8,
            fields: json!({}),
            event: json!({}),
            context: seg("enterprise", 5),
            rule: "drop",
            route: "none",
            approval: false,
        },
    ];
    cases.iter().for_each(run);
}

#[test]
fn invoice_approval_rules_in_order() {
    let pos = json!({ "purchase_orders": { "open_pos": ["PO-4471"], "limit": 5000.0, "currency": "EUR" } });
    let money = |v: f64| json!({ "value": v, "currency": "EUR" });
    let cases = [
        Case {
            workflow: "invoice-approval",
            label: "credit_note",
            confidence: 0.9,
            fields: json!({}),
            event: json!({}),
            context: pos.clone(),
            rule: "not-an-invoice",
            route: "accounts-payable-inbox",
            approval: false,
        },
        Case {
            workflow: "invoice-approval",
            label: "invoice",
            confidence: 0.9,
            fields: json!({ "invoice_id": "INV-1", "amount": money(100.0) }),
            event: json!({}),
            context: pos.clone(),
            rule: "unmatched-po",
            route: "finance-review",
            approval: true,
        },
        Case {
            workflow: "invoice-approval",
            label: "invoice",
            confidence: 0.9,
            fields: json!({ "invoice_id": "INV-1", "po_number": "PO-9999", "amount": money(100.0) }),
            event: json!({}),
            context: pos.clone(),
            rule: "unmatched-po",
            route: "finance-review",
            approval: true,
        },
        Case {
            workflow: "invoice-approval",
            label: "invoice",
            confidence: 0.9,
            fields: json!({ "invoice_id": "INV-1", "po_number": "PO-4471", "amount": money(9000.0) }),
            event: json!({}),
            context: pos.clone(),
            rule: "over-limit",
            route: "finance-review",
            approval: true,
        },
        Case {
            workflow: "invoice-approval",
            label: "invoice",
            confidence: 0.9,
            fields: json!({ "invoice_id": "INV-1", "po_number": "PO-4471", "amount": money(900.0) }),
            event: json!({}),
            context: pos,
            rule: "matched",
            route: "auto-pay",
            approval: false,
        },
    ];
    cases.iter().for_each(run);
}

#[test]
fn invoice_approval_needs_two_of_three() {
    let spec = &handoff_workflows::catalog()
        .get("invoice-approval")
        .unwrap()
        .spec;
    let approval = spec.approval.as_ref().unwrap();
    assert_eq!((approval.required, approval.reviewers.len()), (2, 3));
    assert_eq!(
        spec.rules
            .iter()
            .find(|r| r.name == "matched")
            .unwrap()
            .priority,
        Priority::Normal
    );
}
