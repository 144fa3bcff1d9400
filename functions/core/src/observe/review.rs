//! The scheduled accuracy review: per workflow and AI label, how often the
//! reviewers kept the AI's label over the last days, and what the verdicts
//! prove for the labels' autonomy, stored in the run store so the
//! dashboards and the decide stage can read the latest one.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use handoff_spec::Workflow;

use crate::domain::{AuditEvent, Feedback, RunId, Stage};
use crate::observe::autonomy::{self, Evidence, LabelAutonomy};
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::{RunStore, Slot, StoreError};

/// The pseudo-run the reviews are stored under, one slot per workflow.
pub const REVIEWS: &str = "accuracy-review";

/// How many reviewer corrections one review reads, at most.
const MAX_FEEDBACK: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelReview {
    pub reviewed: usize,
    pub kept: usize,
    /// What the reviewers changed this label to, and how often.
    pub changed_to: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReview {
    pub workflow: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub reviewed: usize,
    pub kept: usize,
    pub labels: BTreeMap<String, LabelReview>,
    /// Per label of the primary classify task, when it declares `autonomy`:
    /// what all stored verdicts prove, not only the week's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub autonomy: BTreeMap<String, LabelAutonomy>,
}

impl AccuracyReview {
    pub fn accuracy(&self) -> Option<f64> {
        (self.reviewed > 0).then(|| self.kept as f64 / self.reviewed as f64)
    }
}

/// Reviews each workflow's reviewer feedback of the `days` before `now`,
/// reassesses its labels' autonomy, records every promotion and demotion as
/// `autonomy.changed`, and stores each review as that workflow's latest.
pub async fn run(
    store: &dyn RunStore,
    workflows: &[&Workflow],
    now: DateTime<Utc>,
    days: i64,
) -> Result<Vec<AccuracyReview>, StoreError> {
    let from = now - Duration::days(days);
    let mut out = Vec::new();
    for workflow in workflows {
        let name = workflow.name();
        let feedback: Vec<Feedback> = store
            .list_feedback(name, MAX_FEEDBACK)
            .await?
            .into_iter()
            .filter(Feedback::teaches)
            .collect();
        let mut review = AccuracyReview {
            workflow: name.to_string(),
            from,
            to: now,
            reviewed: 0,
            kept: 0,
            labels: BTreeMap::new(),
            autonomy: assess_autonomy(workflow, &feedback),
        };
        for f in feedback.iter().filter(|f| f.at >= from && f.at <= now) {
            let label = review.labels.entry(f.predicted_label.clone()).or_default();
            label.reviewed += 1;
            review.reviewed += 1;
            if f.final_label == f.predicted_label {
                label.kept += 1;
                review.kept += 1;
            } else {
                *label.changed_to.entry(f.final_label.clone()).or_default() += 1;
            }
        }
        let before = latest(store, name).await?.map(|r| r.autonomy);
        record_changes(
            store,
            name,
            now,
            before.unwrap_or_default(),
            &review.autonomy,
        )
        .await?;
        store
            .put_slot(
                &RunId(REVIEWS.into()),
                &Slot::Review(name.to_string()),
                &serde_json::to_value(&review).expect("reviews serialise"),
            )
            .await?;
        out.push(review);
    }
    Ok(out)
}

/// Every label of the primary classify task, assessed on its verdicts;
/// empty when the task declares no autonomy.
fn assess_autonomy(workflow: &Workflow, feedback: &[Feedback]) -> BTreeMap<String, LabelAutonomy> {
    let Some((_, task)) = workflow.spec.reason.primary() else {
        return BTreeMap::new();
    };
    let Some(spec) = &task.autonomy else {
        return BTreeMap::new();
    };
    task.labels
        .iter()
        .map(|label| {
            let evidence: Vec<Evidence> = feedback
                .iter()
                .filter(|f| f.predicted_label == label.name)
                .map(|f| Evidence {
                    confidence: f.confidence,
                    correct: f.final_label == f.predicted_label,
                })
                .collect();
            (label.name.clone(), autonomy::assess(spec, &evidence))
        })
        .collect()
}

/// An `autonomy.changed` audit event per label whose status or threshold
/// moved, with the evidence that moved it.
async fn record_changes(
    store: &dyn RunStore,
    workflow: &str,
    now: DateTime<Utc>,
    before: BTreeMap<String, LabelAutonomy>,
    after: &BTreeMap<String, LabelAutonomy>,
) -> Result<(), StoreError> {
    for (label, now_proven) in after {
        let was = before.get(label);
        // A first review records only promotions: review is the default.
        let moved = match was {
            None => now_proven.status == autonomy::AutonomyStatus::Auto,
            Some(w) => (w.status, w.threshold) != (now_proven.status, now_proven.threshold),
        };
        if !moved {
            continue;
        }
        store
            .append(&AuditEvent::new(
                &RunId(REVIEWS.into()),
                now,
                Stage::Decide,
                "autonomy.changed",
                serde_json::json!({
                    "workflow": workflow,
                    "label": label,
                    "from": was,
                    "to": now_proven,
                }),
            ))
            .await?;
    }
    Ok(())
}

/// The latest stored review of `workflow`, if one ran.
pub async fn latest(
    store: &dyn RunStore,
    workflow: &str,
) -> Result<Option<AccuracyReview>, StoreError> {
    let stored = store
        .get_slot(&RunId(REVIEWS.into()), &Slot::Review(workflow.to_string()))
        .await?;
    Ok(stored.and_then(|v| serde_json::from_value(v).ok()))
}

/// Per label with earned autonomy configured: its error bound, samples and
/// coverage, for the dashboards (dimensions workflow, label).
pub fn autonomy_metrics(review: &AccuracyReview) -> Vec<MetricDoc> {
    review
        .autonomy
        .iter()
        .map(|(label, a)| {
            MetricDoc::workflow(&review.workflow)
                .dimension("label", label)
                .value(Metric::AutonomyErrorBound, a.error_bound)
                .value(Metric::AutonomySamples, a.samples as f64)
                .value(Metric::AutonomyCoverage, a.coverage)
                .property(
                    "status",
                    serde_json::to_value(a.status).expect("statuses serialise"),
                )
        })
        .collect()
}
