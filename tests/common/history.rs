//! A history for backtests: 300 decided support-triage runs, a quarter of
//! them with a reviewer's verdict, stored through the run store port so the
//! same history stands in SQLite and in DynamoDB.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_core::stages::decide::decide;
use handoff_core::testing::fixtures;
use handoff_spec::RuleInput;
use serde_json::json;

pub const RUNS: usize = 300;
const LABELS: [&str; 3] = ["refund_request", "card_problem", "billing_question"];

/// What the seed holds of run `i`: its label, refund amount and verdict.
pub struct Seeded {
    pub id: String,
    pub label: &'static str,
    pub amount: f64,
    pub verdict: Option<&'static str>,
}

pub fn seeded(i: usize) -> Seeded {
    let label = LABELS[i % 3];
    Seeded {
        id: format!("bt-{i:03}"),
        label,
        amount: ((i * 37) % 200) as f64,
        // Every fourth run was reviewed; half of the reviewers relabelled.
        verdict: i
            .is_multiple_of(4)
            .then_some(if i % 8 == 4 { label } else { "account_access" }),
    }
}

/// Stores the history: every run with its event, context, AI answers, the
/// reason stage's record and the decision the shipped spec made, the
/// verdicts, and one run that never reached a decision.
pub async fn seed(store: &dyn RunStore) {
    let catalog = handoff_workflows::catalog();
    let workflow = catalog.get("support-triage").unwrap();
    let now = Utc::now();
    for i in 0..RUNS {
        let s = seeded(i);
        let run = fixtures::run(
            &s.id,
            "support-triage",
            None,
            now - Duration::minutes(i as i64),
        );
        fixtures::put_run(store, &run).await;
        let ai = AiResult {
            outputs: [
                (
                    "issue_type".to_string(),
                    json!({"label": s.label, "confidence": 0.9, "tier": "embedded"}),
                ),
                (
                    "details".to_string(),
                    json!({"amount": {"value": s.amount, "currency": "EUR"}}),
                ),
            ]
            .into(),
            ..AiResult::default()
        };
        let context = json!({"plan": {"tier": 3}});
        let event = json!({"text": "seeded"});
        let ai_json = ai.to_value();
        let decision = decide(
            workflow,
            &ai,
            &RuleInput {
                event: &event,
                ai: &ai_json,
                context: &context,
            },
        )
        .unwrap();
        store.put_slot(&run.id, &Slot::Ai, &ai_json).await.unwrap();
        // What the reason stage recorded: the LLM-drafted reply's one call.
        store
            .append(&AuditEvent::new(
                &run.id,
                now,
                Stage::Reason,
                "reason.finished",
                json!({"tasks": [{
                    "task": "reply", "kind": "draft", "status": "answered", "tier": "strong",
                    "calls": [{"tier": "strong", "model": "m", "outcome": "answered", "cost": 0.002,
                               "usage": {"input_tokens": 100, "output_tokens": 20, "latency_ms": 5}}],
                }]}),
            ))
            .await
            .unwrap();
        store
            .put_slot(&run.id, &Slot::Context, &context)
            .await
            .unwrap();
        store
            .put_slot(
                &run.id,
                &Slot::Decision,
                &serde_json::to_value(&decision).unwrap(),
            )
            .await
            .unwrap();
        if let Some(verdict) = s.verdict {
            store
                .put_feedback(&Feedback {
                    workflow: "support-triage".into(),
                    run_id: run.id.clone(),
                    at: now,
                    text: "seeded".into(),
                    predicted_label: s.label.into(),
                    confidence: 0.9,
                    final_label: verdict.into(),
                    edits: None,
                    reviewer: "ana@example.com".into(),
                    status: FeedbackStatus::Confirmed,
                })
                .await
                .unwrap();
        }
    }
    // A run that never reached a decision is skipped, not guessed at.
    let undecided = fixtures::run("bt-undecided", "support-triage", None, now);
    fixtures::put_run(store, &undecided).await;
}

/// The refunds whose amount is in `range`: what moving the large-refund
/// threshold across it changes, read from the seed alone.
pub fn refunds_in(range: std::ops::Range<f64>) -> BTreeSet<String> {
    (0..RUNS)
        .map(seeded)
        .filter(|s| s.label == "refund_request" && range.contains(&s.amount))
        .map(|s| s.id)
        .collect()
}

/// The ids of the runs a backtest's JSON reports as changed.
pub fn changed_ids(figures: &serde_json::Value) -> BTreeSet<String> {
    figures["changed"]
        .as_array()
        .expect("a list of changes")
        .iter()
        .map(|c| c["run_id"].as_str().expect("a run id").to_string())
        .collect()
}
