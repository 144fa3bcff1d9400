//! The scheduled accuracy review: per workflow and AI label, how often the
//! reviewers kept the AI's label over the last days, stored in the run
//! store so the dashboards can show the latest one.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::RunId;
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
}

impl AccuracyReview {
    pub fn accuracy(&self) -> Option<f64> {
        (self.reviewed > 0).then(|| self.kept as f64 / self.reviewed as f64)
    }
}

/// Reviews each workflow's reviewer feedback of the `days` before `now`
/// and stores each review as that workflow's latest.
pub async fn run(
    store: &dyn RunStore,
    workflows: &[&str],
    now: DateTime<Utc>,
    days: i64,
) -> Result<Vec<AccuracyReview>, StoreError> {
    let from = now - Duration::days(days);
    let mut out = Vec::new();
    for workflow in workflows {
        let mut review = AccuracyReview {
            workflow: workflow.to_string(),
            from,
            to: now,
            reviewed: 0,
            kept: 0,
            labels: BTreeMap::new(),
        };
        for f in store
            .list_feedback(workflow, MAX_FEEDBACK)
            .await?
            .into_iter()
            .filter(crate::domain::Feedback::teaches)
        {
            if f.at < from || f.at > now {
                continue;
            }
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
        store
            .put_slot(
                &RunId(REVIEWS.into()),
                &Slot::Review(workflow.to_string()),
                &serde_json::to_value(&review).expect("reviews serialise"),
            )
            .await?;
        out.push(review);
    }
    Ok(out)
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
