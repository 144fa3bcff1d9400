//! The scheduled accuracy review: per workflow and AI label, how often the
//! reviewers kept the AI's label over the last days, and what the verdicts
//! prove for the labels' autonomy. Each review is kept in the store's review
//! log, a history per workflow: the dashboards and the decide stage read the
//! latest, and the reviews' `autonomy.changed` entries are the trail of every
//! promotion and demotion.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use handoff_spec::Workflow;

use crate::domain::{Feedback, RunId};
use crate::observe::autonomy::{self, Evidence, LabelAutonomy};
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::{RunStore, Slot, StoreError};

/// Where reviews were kept before the review log: one slot per workflow of
/// this pseudo-run. Read when a workflow has no review in the log yet.
const LEGACY_REVIEWS: &str = "accuracy-review";

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
    /// The labels this review promoted or demoted, with the evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AutonomyChange>,
}

/// A label whose autonomy status or threshold a review moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutonomyChange {
    /// Always `autonomy.changed`, so the entry reads alone.
    pub kind: String,
    pub label: String,
    /// What the review before proved; none for a first review.
    pub from: Option<LabelAutonomy>,
    pub to: LabelAutonomy,
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
            changes: Vec::new(),
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
        review.changes = changes(&before.unwrap_or_default(), &review.autonomy);
        store
            .put_review(
                name,
                now,
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

/// An `autonomy.changed` entry per label whose status or threshold moved.
fn changes(
    before: &BTreeMap<String, LabelAutonomy>,
    after: &BTreeMap<String, LabelAutonomy>,
) -> Vec<AutonomyChange> {
    after
        .iter()
        .filter_map(|(label, now_proven)| {
            let was = before.get(label);
            // A first review records only promotions: review is the default.
            let moved = match was {
                None => now_proven.status == autonomy::AutonomyStatus::Auto,
                Some(w) => (w.status, w.threshold) != (now_proven.status, now_proven.threshold),
            };
            moved.then(|| AutonomyChange {
                kind: "autonomy.changed".into(),
                label: label.clone(),
                from: was.cloned(),
                to: now_proven.clone(),
            })
        })
        .collect()
}

/// The latest review of `workflow`, if one ran.
pub async fn latest(
    store: &dyn RunStore,
    workflow: &str,
) -> Result<Option<AccuracyReview>, StoreError> {
    Ok(history(store, workflow, 1).await?.pop())
}

/// The reviews of `workflow`, newest first, at most `limit`; a store
/// written before the review log has at most its one slot.
pub async fn history(
    store: &dyn RunStore,
    workflow: &str,
    limit: usize,
) -> Result<Vec<AccuracyReview>, StoreError> {
    let mut stored = store.reviews(workflow, limit).await?;
    if stored.is_empty() && limit > 0 {
        let legacy = RunId(LEGACY_REVIEWS.into());
        stored.extend(
            store
                .get_slot(&legacy, &Slot::Review(workflow.to_string()))
                .await?,
        );
    }
    Ok(stored
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
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
