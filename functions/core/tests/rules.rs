//! Rule order and approval decisions of every workflow, driven through the
//! pure `decide` with hand-made AI output and context.

use handoff_core::domain::{AiResult, Decision};
use handoff_core::stages::decide::decide;
use handoff_spec::{Priority, RuleInput, TaskKind, Workflow};
use serde_json::{json, Value};

/// The decision a case expects: (rule, route, needs approval).
type Expected = (&'static str, &'static str, bool);

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

/// `decide` on an empty event.
fn decision(workflow: &Workflow, result: &AiResult, context: &Value) -> Decision {
    let ai_json = serde_json::to_value(result).unwrap();
    let input = RuleInput {
        event: &json!({}),
        ai: &ai_json,
        context,
    };
    decide(workflow, result, &input).unwrap()
}

/// Decides `workflow` on the primary `label` at `confidence` and the first
/// extract's `fields`, and checks the rule, route and approval.
fn check(
    workflow: &str,
    label: &str,
    confidence: f64,
    fields: Value,
    context: Value,
    (rule, route, approval): Expected,
) {
    let workflow_spec = handoff_workflows::catalog().get(workflow).unwrap();
    let result = ai(workflow_spec, label, confidence, &fields);
    let d = decision(workflow_spec, &result, &context);
    let what = format!("{workflow} / {label} / {fields}");
    assert_eq!(d.rule.as_deref(), Some(rule), "{what}");
    assert_eq!(d.route, route, "{what}");
    assert_eq!(d.needs_approval, approval, "{what}: {}", d.reason);
}

fn plan(tier: u8) -> Value {
    json!({ "plan": { "tier": tier, "first_response_hours": 4 }, "history": { "count": 0 } })
}

#[test]
fn support_triage_rules_in_order() {
    let refund = |value: f64| json!({ "amount": { "value": value, "currency": "EUR" } });
    let none = json!({});
    // (label, confidence, extracted fields, plan tier) → (rule, route, approval)
    let cases = [
        (
            ("refund_request", 0.9, refund(250.0), 3),
            ("large-refund", "billing-team", true),
        ),
        (
            ("refund_request", 0.9, refund(20.0), 3),
            ("refund", "billing-team", true),
        ),
        (
            ("card_problem", 0.9, none.clone(), 1),
            ("card-trouble", "cards-team", false),
        ),
        // An enterprise customer's question is not a card problem: the tier rule comes next.
        (
            ("billing_question", 0.9, none.clone(), 1),
            ("enterprise-first", "enterprise-desk", false),
        ),
        (
            ("technical_issue", 0.9, none.clone(), 3),
            ("default", "general-support", false),
        ),
        // Below the review threshold the AI step does not guess: a person decides.
        (
            ("technical_issue", 0.2, none, 3),
            ("default", "general-support", true),
        ),
    ];
    for ((label, confidence, fields, tier), expected) in cases {
        check(
            "support-triage",
            label,
            confidence,
            fields,
            plan(tier),
            expected,
        );
    }
}

#[test]
fn lead_qualification_rules_in_order() {
    let seg = |s: &str, w: u8| json!({ "segment": { "segment": s, "weight": w } });
    let cases = [
        (
            "ready_to_buy",
            seg("enterprise", 4),
            ("enterprise-deal", "enterprise-sales", true),
        ),
        ("ready_to_buy", seg("smb", 1), ("hot-lead", "sales", false)),
        (
            "evaluating",
            seg("mid_market", 3),
            ("evaluating", "solutions-engineering", false),
        ),
        (
            "evaluating",
            seg("smb", 1),
            ("nurture", "marketing-nurture", false),
        ),
        (
            "support_request",
            seg("smb", 1),
            ("misrouted-support", "support", false),
        ),
        ("not_a_lead", seg("enterprise", 5), ("drop", "none", false)),
    ];
    for (label, context, expected) in cases {
        check(
            "lead-qualification",
            label,
            0.8,
            json!({}),
            context,
            expected,
        );
    }
}

fn open_po() -> Value {
    json!({ "purchase_orders": { "open_pos": ["PO-4471"], "limit": 5000.0, "currency": "EUR" } })
}

#[test]
fn invoice_approval_rules_in_order() {
    let money = |v: f64| json!({ "value": v, "currency": "EUR" });
    let unmatched = ("unmatched-po", "finance-review", true);
    let cases = [
        (
            "credit_note",
            json!({}),
            ("not-an-invoice", "accounts-payable-inbox", false),
        ),
        (
            "invoice",
            json!({ "invoice_id": "INV-1", "amount": money(100.0) }),
            unmatched,
        ),
        (
            "invoice",
            json!({ "invoice_id": "INV-1", "po_number": "PO-9999", "amount": money(100.0) }),
            unmatched,
        ),
        (
            "invoice",
            json!({ "invoice_id": "INV-1", "po_number": "PO-4471", "amount": money(9000.0) }),
            ("over-limit", "finance-review", true),
        ),
        (
            "invoice",
            json!({ "invoice_id": "INV-1", "po_number": "PO-4471", "amount": money(900.0) }),
            ("matched", "auto-pay", false),
        ),
    ];
    for (label, fields, expected) in cases {
        check("invoice-approval", label, 0.9, fields, open_po(), expected);
    }
}

#[test]
fn invoice_line_items_that_cannot_add_up_go_to_review() {
    let invoice = |amount: Value, tax: Option<f64>, lines: Value| {
        let mut fields = json!({
            "invoice_id": "INV-1",
            "po_number": "PO-4471",
            "amount": { "value": amount, "currency": "EUR" },
            "line_items": lines,
        });
        if let Some(tax) = tax {
            fields["tax"] = json!(tax);
        }
        fields
    };
    let line = |total: Value| json!({ "description": "item", "total": total });
    let priced = |quantity: u64, unit_price: f64, total: f64| json!({ "description": "item", "quantity": quantity, "unit_price": unit_price, "total": total });
    // Integers mixed with decimals, as models write them.
    let adds_up = [
        invoice(
            json!(1250),
            None,
            json!([priced(2, 500.0, 1000.0), line(json!(250))]),
        ),
        invoice(json!(1250.0), None, json!([line(json!(1250))])),
        // One line: the total before tax.
        invoice(json!(1200.0), Some(200.0), json!([line(json!(1000.0))])),
        // A discount line.
        invoice(
            json!(1000),
            None,
            json!([line(json!(1100)), line(json!(-100))]),
        ),
        invoice(json!(900.0), None, json!([])),
        json!({ "invoice_id": "INV-1", "po_number": "PO-4471", "amount": { "value": 900.0, "currency": "EUR" } }),
    ];
    let cannot_add_up = [
        // Quantity × unit price is not the line's total.
        invoice(json!(900.0), None, json!([priced(2, 500.0, 900.0)])),
        // Short of the total.
        invoice(
            json!(1250.0),
            None,
            json!([line(json!(500)), line(json!(500.0))]),
        ),
        // Over the total.
        invoice(json!(1250.0), None, json!([line(json!(1300.0))])),
        invoice(
            json!(1000.0),
            Some(0.0),
            json!([line(json!(600.0)), line(json!(700.0))]),
        ),
        // Between the largest and the smallest line times their count: only
        // the sum tells.
        invoice(
            json!(1250.0),
            None,
            json!([line(json!(1000.0)), line(json!(100))]),
        ),
    ];
    let outcomes = [
        ("matched", "auto-pay", false),
        ("totals-do-not-add-up", "finance-review", true),
    ];
    for (fields, expected) in adds_up
        .into_iter()
        .map(|f| (f, outcomes[0]))
        .chain(cannot_add_up.into_iter().map(|f| (f, outcomes[1])))
    {
        check(
            "invoice-approval",
            "invoice",
            0.9,
            fields,
            open_po(),
            expected,
        );
    }
}

/// `decide` over every task's output given by hand, for workflows whose
/// rules read more than the primary label and the first extract.
fn check_outputs(workflow: &str, outputs: Value, context: &Value, expected: Expected) {
    let workflow = handoff_workflows::catalog().get(workflow).unwrap();
    let result = AiResult {
        outputs: serde_json::from_value(outputs.clone()).unwrap(),
        ..AiResult::default()
    };
    let d = decision(workflow, &result, context);
    let (rule, route, approval) = expected;
    assert_eq!(
        (d.rule.unwrap(), d.route, d.needs_approval),
        (rule.to_string(), route.to_string(), approval),
        "{outputs}"
    );
}

fn label(name: &str) -> Value {
    json!({ "label": name, "confidence": 0.9, "rationale": "", "tier": "embedded" })
}

#[test]
fn customer_onboarding_routes_issues_and_holds_high_risk_updates() {
    let context = json!({ "plan": { "onboarding_days": 30, "desk": "onboarding" }, "history": { "count": 0 } });
    let with = |risk: &str, plan: Value| {
        json!({ "summary": { "text": "s", "tier": "embedded" }, "plan": plan, "risk": label(risk),
                "update": { "text": "u", "tier": "template" } })
    };
    let open_setup = ("open-setup", "implementation-team", false);
    let integrations = ("integrations", "integrations-team", false);
    let cases = [
        (
            with("high", json!({ "teams_needed": ["billing"] })),
            ("high-risk", "onboarding-escalations", true),
        ),
        (
            with("medium", json!({ "teams_needed": ["billing", "security"] })),
            ("security-review", "security-team", false),
        ),
        (
            with("low", json!({ "teams_needed": ["data_migration"] })),
            integrations,
        ),
        (
            with(
                "low",
                json!({ "teams_needed": ["integrations", "billing"] }),
            ),
            integrations,
        ),
        (
            with("low", json!({ "teams_needed": ["billing"] })),
            ("billing-setup", "billing-team", false),
        ),
        (
            with(
                "low",
                json!({ "blockers": [{ "owner": "IT", "task": "SSO" }] }),
            ),
            open_setup,
        ),
        (
            with(
                "low",
                json!({ "missing_setup": ["user import"], "teams_needed": [] }),
            ),
            open_setup,
        ),
        (with("medium", json!({})), open_setup),
        (
            with(
                "low",
                json!({ "go_live_date": "2026-03-02", "blockers": [], "missing_setup": [] }),
            ),
            ("on-track", "customer-success", false),
        ),
    ];
    for (outputs, expected) in cases {
        check_outputs("customer-onboarding", outputs, &context, expected);
    }
}

#[test]
fn revops_follow_ups_all_wait_for_approval() {
    let account =
        |tier: u8| json!({ "account": { "tier": tier, "team": "t" }, "history": { "count": 0 } });
    let with = |signal: &str, risk: &str| {
        json!({ "crm": { "next_step": "send the quote" }, "signal": label(signal), "risk": label(risk),
                "followup": { "text": "f", "tier": "template" } })
    };
    let cases = [
        (
            with("churn_risk", "high"),
            1,
            "churn-risk",
            "customer-success-escalation",
        ),
        (
            with("renewal", "high"),
            1,
            "sensitive-followup",
            "sales-leadership",
        ),
        (
            with("expansion", "medium"),
            1,
            "strategic-expansion",
            "strategic-accounts",
        ),
        (
            with("expansion", "low"),
            2,
            "expansion",
            "account-management",
        ),
        (with("renewal", "medium"), 1, "renewal", "renewals"),
        (with("none", "low"), 3, "follow-up", "deal-owner"),
    ];
    for (outputs, tier, rule, route) in cases {
        check_outputs(
            "revops-call-followup",
            outputs,
            &account(tier),
            (rule, route, true),
        );
    }
    // Every rule sends the follow-up e-mail, so every rule asks a person first.
    let spec = &handoff_workflows::catalog()
        .get("revops-call-followup")
        .unwrap()
        .spec;
    for rule in &spec.rules {
        assert!(
            rule.actions.iter().any(|a| a == "send_followup"),
            "{}",
            rule.name
        );
        assert!(rule.approval, "{}", rule.name);
    }
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
