//! Rule order and approval decisions of every workflow, driven through the
//! pure `decide` with hand-made AI output and context.

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
fn invoice_line_items_that_cannot_add_up_go_to_review() {
    let pos = json!({ "purchase_orders": { "open_pos": ["PO-4471"], "limit": 5000.0, "currency": "EUR" } });
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
    let expected = [
        ("matched", "auto-pay", false),
        ("totals-do-not-add-up", "finance-review", true),
    ];
    for (fields, (rule, route, approval)) in adds_up
        .into_iter()
        .map(|f| (f, expected[0]))
        .chain(cannot_add_up.into_iter().map(|f| (f, expected[1])))
    {
        run(&Case {
            workflow: "invoice-approval",
            label: "invoice",
            confidence: 0.9,
            fields,
            event: json!({}),
            context: pos.clone(),
            rule,
            route,
            approval,
        });
    }
}

/// `decide` over every task's output given by hand, for workflows whose
/// rules read more than the primary label and the first extract.
fn decided(workflow: &str, outputs: Value, context: Value) -> (String, String, bool) {
    let workflow = handoff_workflows::catalog().get(workflow).unwrap();
    let result = AiResult {
        outputs: serde_json::from_value(outputs).unwrap(),
        ..AiResult::default()
    };
    let ai_json = serde_json::to_value(&result).unwrap();
    let input = RuleInput {
        event: &json!({}),
        ai: &ai_json,
        context: &context,
    };
    let d = decide(workflow, &result, &input).unwrap();
    (d.rule.unwrap(), d.route, d.needs_approval)
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
    let cases = [
        (
            with("high", json!({ "teams_needed": ["billing"] })),
            "high-risk",
            "onboarding-escalations",
            true,
        ),
        (
            with("medium", json!({ "teams_needed": ["billing", "security"] })),
            "security-review",
            "security-team",
            false,
        ),
        (
            with("low", json!({ "teams_needed": ["data_migration"] })),
            "integrations",
            "integrations-team",
            false,
        ),
        (
            with(
                "low",
                json!({ "teams_needed": ["integrations", "billing"] }),
            ),
            "integrations",
            "integrations-team",
            false,
        ),
        (
            with("low", json!({ "teams_needed": ["billing"] })),
            "billing-setup",
            "billing-team",
            false,
        ),
        (
            with(
                "low",
                json!({ "blockers": [{ "owner": "IT", "task": "SSO" }] }),
            ),
            "open-setup",
            "implementation-team",
            false,
        ),
        (
            with(
                "low",
                json!({ "missing_setup": ["user import"], "teams_needed": [] }),
            ),
            "open-setup",
            "implementation-team",
            false,
        ),
        (
            with("medium", json!({})),
            "open-setup",
            "implementation-team",
            false,
        ),
        (
            with(
                "low",
                json!({ "go_live_date": "2026-03-02", "blockers": [], "missing_setup": [] }),
            ),
            "on-track",
            "customer-success",
            false,
        ),
    ];
    for (outputs, rule, route, approval) in cases {
        let got = decided("customer-onboarding", outputs.clone(), context.clone());
        assert_eq!(
            got,
            (rule.to_string(), route.to_string(), approval),
            "{outputs}"
        );
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
            account(1),
            "churn-risk",
            "customer-success-escalation",
        ),
        (
            with("renewal", "high"),
            account(1),
            "sensitive-followup",
            "sales-leadership",
        ),
        (
            with("expansion", "medium"),
            account(1),
            "strategic-expansion",
            "strategic-accounts",
        ),
        (
            with("expansion", "low"),
            account(2),
            "expansion",
            "account-management",
        ),
        (with("renewal", "medium"), account(1), "renewal", "renewals"),
        (with("none", "low"), account(3), "follow-up", "deal-owner"),
    ];
    for (outputs, context, rule, route) in cases {
        let got = decided("revops-call-followup", outputs.clone(), context);
        assert_eq!(
            got,
            (rule.to_string(), route.to_string(), true),
            "{outputs}"
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
