//! A reviewer's correction of a run's AI label (`POST /runs/{id}/feedback`):
//! who may give one, how often, and when it teaches the AI. Corrections are
//! the examples later runs are classified by, so a single one must not be
//! able to switch an approval off.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tracing::warn;

use handoff_spec::{RuleInput, Workflow};

use crate::domain::*;
use crate::ports::*;
use crate::stages::decide::decide;

/// Corrections one reviewer may give per workflow in an hour.
pub const MAX_CORRECTIONS_PER_HOUR: usize = 30;
/// How many of a workflow's newest corrections the checks read.
const SCAN: usize = 500;

/// What the reviewer asked for.
pub struct Correction {
    pub reviewer: String,
    pub label: String,
    pub edits: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    #[error("`{reviewer}` reviewed no approval of run {run}")]
    NotThisRunsReviewer { reviewer: String, run: RunId },
    #[error("`{label}` is not a label of {workflow}; one of {known}")]
    UnknownLabel {
        label: String,
        workflow: String,
        known: String,
    },
    #[error("at most {MAX_CORRECTIONS_PER_HOUR} corrections an hour per reviewer")]
    RateLimited { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records `correction` of `run`, replacing the reviewer's earlier one.
/// A correction that would take texts like this one out of a rule that
/// requires approval is stored as awaiting a second reviewer; the second
/// reviewer to give the same label confirms both.
pub async fn record(
    store: &dyn RunStore,
    now: DateTime<Utc>,
    workflow: &Workflow,
    run: &Run,
    correction: Correction,
) -> Result<Feedback, CorrectionError> {
    let reviewer = correction.reviewer.trim().to_ascii_lowercase();
    let reviewed = store.approvals_of_run(&run.id).await?.iter().any(|a| {
        a.reviewers
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&reviewer))
    });
    if !reviewed {
        return Err(CorrectionError::NotThisRunsReviewer {
            reviewer,
            run: run.id.clone(),
        });
    }
    let known = workflow.spec.reason.primary_labels();
    if !known.contains(&correction.label) {
        return Err(CorrectionError::UnknownLabel {
            label: correction.label,
            workflow: run.workflow.clone(),
            known: known.join(", "),
        });
    }
    let recent = store.list_feedback(&run.workflow, SCAN).await?;
    let hour_ago = now - Duration::hours(1);
    let mine: Vec<&Feedback> = recent
        .iter()
        .filter(|f| f.reviewer.eq_ignore_ascii_case(&reviewer) && f.at > hour_ago)
        .collect();
    if mine.len() >= MAX_CORRECTIONS_PER_HOUR {
        let oldest = mine.iter().map(|f| f.at).min().unwrap_or(now);
        return Err(CorrectionError::RateLimited {
            retry_after: oldest + Duration::hours(1) - now,
        });
    }

    let ai: AiResult = store
        .get_slot(&run.id, &Slot::Ai)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let primary = ai.primary(&workflow.spec.reason);
    let event = store.get_event(&run.id).await?;
    let skips =
        skips_approval(store, workflow, run, event.as_ref(), &ai, &correction.label).await?;
    let seconded: Vec<Feedback> = recent
        .iter()
        .filter(|f| {
            f.run_id == run.id
                && !f.reviewer.eq_ignore_ascii_case(&reviewer)
                && f.final_label == correction.label
        })
        .cloned()
        .collect();
    let status = if skips && seconded.is_empty() {
        FeedbackStatus::AwaitingSecondReviewer
    } else {
        FeedbackStatus::Confirmed
    };
    let feedback = Feedback {
        workflow: run.workflow.clone(),
        run_id: run.id.clone(),
        at: now,
        text: event.map(|e| e.text()).unwrap_or_default(),
        predicted_label: primary
            .as_ref()
            .map(|c| c.label.clone())
            .unwrap_or_default(),
        confidence: primary.as_ref().map_or(0.0, |c| c.confidence),
        final_label: correction.label,
        edits: correction.edits,
        reviewer,
        status,
    };
    store.put_feedback(&feedback).await?;
    for mut other in seconded.into_iter().filter(|f| !f.teaches()) {
        other.status = FeedbackStatus::Confirmed;
        store.put_feedback(&other).await?;
    }
    Ok(feedback)
}

/// Whether the run's rules, which required approval for the AI's own
/// label, would act without one for `label`. The AI's own review request
/// is left out: it is about this run, not about texts like it. Rules that
/// cannot be evaluated on the stored run count as skipping: a second
/// reviewer costs less than an approval switched off.
async fn skips_approval(
    store: &dyn RunStore,
    workflow: &Workflow,
    run: &Run,
    event: Option<&CanonicalEvent>,
    ai: &AiResult,
    label: &str,
) -> Result<bool, CorrectionError> {
    let Some((task, _)) = workflow.spec.reason.primary() else {
        return Ok(false);
    };
    let event = event
        .map(|e| serde_json::to_value(&e.fields).expect("fields serialise"))
        .unwrap_or(json!({}));
    let context = store
        .get_slot(&run.id, &Slot::Context)
        .await?
        .unwrap_or(json!({}));
    let rules_only = AiResult {
        needs_review: false,
        review_reasons: Vec::new(),
        ..ai.clone()
    };
    let mut corrected = rules_only.clone();
    let entry = corrected
        .outputs
        .entry(task.name.clone())
        .or_insert_with(|| json!({ "confidence": 1.0, "rationale": "", "tier": "reviewer" }));
    entry["label"] = json!(label);
    let needs = |ai: &AiResult| {
        let ai_json = ai.to_value();
        decide(
            workflow,
            ai,
            &RuleInput {
                event: &event,
                ai: &ai_json,
                context: &context,
            },
        )
        .map(|d| d.needs_approval)
    };
    match (needs(&rules_only), needs(&corrected)) {
        (Ok(before), Ok(after)) => Ok(before && !after),
        (Err(e), _) | (_, Err(e)) => {
            warn!(run = %run.id, error = %e, "rules unevaluable for a correction; asking a second reviewer");
            Ok(true)
        }
    }
}
