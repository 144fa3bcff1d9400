//! The EMF documents each stage emits, parsed back from the lines a
//! function prints: names, units, dimensions and values.

use std::sync::Arc;

use crate::support::*;
use async_trait::async_trait;
use chrono::Duration;
use handoff_core::domain::*;
use handoff_core::model::Tiers;
use handoff_core::observe::emf::{Metric, TokenPrice};
use handoff_core::ports::*;
use handoff_core::spec::TaskKind;
use handoff_core::stages::finalize::FinalizeInput;
use serde_json::{json, Value};

/// Checks the EMF envelope CloudWatch needs and returns the document.
fn well_formed(doc: &Value) -> &Value {
    let cw = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cw["Namespace"], "handoff", "{doc}");
    assert!(doc["_aws"]["Timestamp"].is_i64(), "{doc}");
    assert_eq!(cw["Dimensions"][1], json!([]), "the total: {doc}");
    let dims = cw["Dimensions"][0]
        .as_array()
        .expect("the document's dimensions");
    assert_eq!(dims[0], "workflow", "{doc}");
    for dim in dims {
        assert!(doc[dim.as_str().unwrap()].is_string(), "{dim} in {doc}");
    }
    for m in cw["Metrics"].as_array().unwrap() {
        let name = m["Name"].as_str().unwrap();
        let known = Metric::ALL.iter().find(|k| k.name() == name);
        assert_eq!(known.map(|k| k.unit()), m["Unit"].as_str(), "{doc}");
        assert!(doc[name].is_number(), "{name} in {doc}");
    }
    doc
}

/// Every emitted document that declares `metric`.
fn declaring(h: &Harness, metric: Metric) -> Vec<Value> {
    h.metrics
        .documents()
        .into_iter()
        .filter(|d| {
            well_formed(d)["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Name"] == metric.name())
        })
        .collect()
}

#[tokio::test]
async fn intake_counts_received_runs_dedupe_hits_and_started_runs() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    let again = h
        .ingest()
        .handle(&sample_request("webhook-support-triage.json"))
        .await;
    assert_eq!(again.status, 200);
    let message = h.queue.messages.lock().unwrap()[0].clone();
    h.starter().start(&message).await.unwrap();

    let received = declaring(&h, Metric::RunsReceived);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["workflow"], "support-triage");
    assert_eq!(received[0]["RunsReceived"], 1.0);
    assert_eq!(received[0]["run_id"], run.run_id.to_string());
    let dedupe = declaring(&h, Metric::DedupeHits);
    assert_eq!(dedupe.len(), 1);
    assert_eq!(dedupe[0]["run_id"], run.run_id.to_string());
    // The redelivered message finds the run started: one start, not two.
    let started = declaring(&h, Metric::RunsStarted);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["workflow"], "support-triage");
}

#[tokio::test]
async fn reason_reports_confidence_by_tier_and_no_tokens_for_the_embedded_model() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    let ai = h.reason().run(&run).await.unwrap();
    // One per classify task: issue_type and urgency.
    let docs = declaring(&h, Metric::AiConfidence);
    assert_eq!(docs.len(), 2);
    let doc = docs.iter().find(|d| d["task"] == "issue_type").unwrap();
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["workflow", "task", "tier"], []])
    );
    assert_eq!(doc["tier"], "embedded");
    assert_eq!(doc["ModelTier"], 1.0);
    let confidence = doc["AiConfidence"].as_f64().unwrap();
    assert!((confidence - ai["confidence"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(doc["label"], ai["label"]);
    assert!(doc.get("LlmInputTokens").is_none(), "{doc}");
    assert!(declaring(&h, Metric::LlmCost).is_empty());
}

/// A billed tier: a fixed valid answer per task kind and fixed token counts.
struct Billed;

#[async_trait]
impl Model for Billed {
    async fn answer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
        let value = match &request.task.kind {
            TaskKind::Classify(c) => json!({
                "label": c.labels[0].name, "confidence": 0.93, "rationale": "asks for money back",
            }),
            TaskKind::Extract(_) => json!({}),
            TaskKind::Summarize(_) | TaskKind::Draft(_) => json!({ "text": "A summary." }),
        };
        Ok(ModelAnswer {
            value,
            model: "billed-1".into(),
            note: None,
            usage: Some(ModelUsage {
                input_tokens: 1200,
                output_tokens: 300,
                latency_ms: 800,
            }),
        })
    }
}

#[tokio::test]
async fn reason_prices_a_billed_models_tokens() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    let mut stage = h.reason();
    let price = TokenPrice {
        input_per_1k: 0.003,
        output_per_1k: 0.015,
    };
    stage.tiers = Tiers::embedded_only().with("fast", "billed-1", Arc::new(Billed), price);
    stage.run(&run).await.unwrap();
    // The summary task asks `fast` first, so at least that call is billed.
    let docs = declaring(&h, Metric::LlmCost);
    assert!(docs.iter().any(|d| d["task"] == "summary"), "{docs:?}");
    for doc in &docs {
        assert_eq!(doc["tier"], "fast");
        assert_eq!(doc["LlmInputTokens"], 1200.0);
        assert_eq!(doc["LlmOutputTokens"], 300.0);
        assert!(doc["LlmLatency"].as_f64().is_some());
        let cost = doc["LlmCost"].as_f64().unwrap();
        assert!((cost - (1.2 * 0.003 + 0.3 * 0.015)).abs() < 1e-12, "{cost}");
    }
}

fn done(run: &RunRef) -> FinalizeInput {
    FinalizeInput {
        run_id: run.run_id.clone(),
        workflow: run.workflow.clone(),
        failure: None,
    }
}

#[tokio::test]
async fn a_run_without_review_counts_as_auto_resolved() {
    let h = Harness::new();
    let run = h.accept("webhook-invoice-approval.json").await;
    h.reason().run(&run).await.unwrap();
    h.finalize().run(&done(&run)).await.unwrap();
    let docs = declaring(&h, Metric::RunsCompleted);
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc["workflow"], "invoice-approval");
    assert_eq!(doc["AutoResolved"], 1.0);
    for absent in [
        "Reviewed",
        "ApprovalLatency",
        "ApprovalsOverdue",
        "Override",
        "RunsFailed",
    ] {
        assert!(doc.get(absent).is_none(), "{absent} in {doc}");
    }
}

/// Stores a decided approval as the callback would have: one vote, with
/// `edits` when the reviewer changed something.
async fn decided(h: &Harness, run: &RunRef, waited_s: i64, edits: Option<Value>) {
    let created = h.clock.now();
    h.clock.advance(waited_s);
    let approval = Approval {
        id: ApprovalId::random(),
        run_id: run.run_id.clone(),
        workflow: run.workflow.clone(),
        task_token: "token".into(),
        reviewers: vec!["ops@example.com".into()],
        required: 1,
        status: ApprovalStatus::Approved,
        escalation: false,
        created_at: created,
        expires_at: created + Duration::hours(4),
        votes: vec![Vote {
            reviewer: "ops@example.com".into(),
            verdict: Verdict::Approve,
            reason: String::new(),
            edits,
            at: h.clock.now(),
        }],
        decided_at: Some(h.clock.now()),
    };
    h.store.put_approval(&approval).await.unwrap();
}

#[tokio::test]
async fn a_relabelled_review_counts_as_reviewed_override_with_its_latency() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    let ai = h.reason().run(&run).await.unwrap();
    assert_ne!(ai["label"], "card_problem");
    decided(&h, &run, 95, Some(json!({ "label": "card_problem" }))).await;
    h.finalize().run(&done(&run)).await.unwrap();
    let doc = &declaring(&h, Metric::RunsCompleted)[0];
    assert_eq!(doc["Reviewed"], 1.0);
    assert_eq!(doc["ApprovalLatency"], 95_000.0);
    assert_eq!(doc["ApprovalsOverdue"], 0.0);
    assert_eq!(doc["Override"], 1.0);
    assert!(doc.get("AutoResolved").is_none(), "{doc}");
}

#[tokio::test]
async fn an_approval_that_keeps_the_ai_label_is_not_an_override() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    h.reason().run(&run).await.unwrap();
    decided(&h, &run, 30, None).await;
    h.finalize().run(&done(&run)).await.unwrap();
    let doc = &declaring(&h, Metric::Override)[0];
    assert_eq!(doc["Override"], 0.0);
    assert_eq!(doc["ApprovalLatency"], 30_000.0);
}

#[tokio::test]
async fn a_failed_run_counts_as_failed_and_as_no_outcome() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    let mut input = done(&run);
    input.failure =
        serde_json::from_value(json!({ "Error": "Handoff.ActionFailed", "Cause": "400" })).unwrap();
    h.finalize().run(&input).await.unwrap();
    let docs = declaring(&h, Metric::RunsFailed);
    assert_eq!(docs.len(), 1);
    assert!(declaring(&h, Metric::RunsCompleted).is_empty());
    assert!(docs[0].get("AutoResolved").is_none());
    assert!(docs[0].get("Reviewed").is_none());
}

#[tokio::test]
async fn an_approval_decided_after_it_expired_counts_as_overdue() {
    let h = Harness::new();
    let run = h.accept("webhook-support-triage.json").await;
    h.reason().run(&run).await.unwrap();
    decided(&h, &run, 5 * 3600, None).await;
    h.finalize().run(&done(&run)).await.unwrap();
    let doc = &declaring(&h, Metric::ApprovalsOverdue)[0];
    assert_eq!(doc["ApprovalsOverdue"], 1.0);
    assert_eq!(doc["ApprovalLatency"], 5.0 * 3600.0 * 1000.0);
}
