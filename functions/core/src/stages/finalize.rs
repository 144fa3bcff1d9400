//! Records the run's outcome and, where a person decided, the feedback that
//! teaches the AI step.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::*;
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::*;
use crate::stages::{audit, summarise, StageError};

/// The `Catch` output Step Functions hands to `RecordFailure`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskFailure {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FinalizeInput {
    pub run_id: RunId,
    pub workflow: String,
    #[serde(default)]
    pub failure: Option<TaskFailure>,
}

pub struct Finalize {
    pub store: Arc<dyn RunStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
}

const OPEN: [RunStatus; 3] = [
    RunStatus::Received,
    RunStatus::Running,
    RunStatus::AwaitingApproval,
];

impl Finalize {
    pub async fn run(&self, input: &FinalizeInput) -> Result<Value, StageError> {
        let t0 = Instant::now();
        let run = super::run_of(self.store.as_ref(), &input.run_id).await?;
        if run.status.is_final() {
            return Ok(json!({ "status": run.status }));
        }
        let approvals = self.store.approvals_of_run(&run.id).await?;
        let last = approvals.first();
        let status = match (&input.failure, last.map(|a| a.status)) {
            (Some(_), _) => RunStatus::Failed,
            (None, Some(ApprovalStatus::Rejected | ApprovalStatus::Expired)) => RunStatus::Rejected,
            _ => RunStatus::Completed,
        };
        let reviewed = approvals.iter().any(|a| !a.votes.is_empty());
        let summary = SummaryUpdate {
            reviewed: Some(reviewed),
            error: input
                .failure
                .as_ref()
                .map(|f| Some(format!("{}: {}", f.error, truncate(&f.cause, 500)))),
            ..SummaryUpdate::default()
        };
        summarise(self.store.as_ref(), &run.id, &summary).await?;
        match self
            .store
            .transition(&run.id, &OPEN, status, Stage::Finalize, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                let now = self.store.get_run(&run.id).await?.map(|r| r.status);
                return Ok(json!({ "status": now }));
            }
            Err(e) => return Err(e.into()),
        }
        let mut overridden = None;
        if let Some(approval) = last {
            overridden = self.record_feedback(&run, approval).await?;
        }
        self.metrics
            .emit(outcome_metrics(&run, status, reviewed, last, overridden));
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            &run.id,
            Stage::Finalize,
            t0,
            json!({ "status": status, "error": summary.error }),
        )
        .await?;
        Ok(json!({ "status": status }))
    }

    /// AI output against the reviewer's answer; a relabel or an edit is a
    /// training example for the next run. Returns whether the reviewer's
    /// label differs from the AI's, when both are known.
    async fn record_feedback(
        &self,
        run: &Run,
        approval: &Approval,
    ) -> Result<Option<bool>, StageError> {
        let Some(vote) = approval.votes.last() else {
            return Ok(None);
        };
        // The reason stage put the primary classify task's answer on the run.
        let predicted = run.summary.label.clone().unwrap_or_default();
        let confidence = run.summary.confidence.unwrap_or(0.0);
        // The deciding side's latest edits: in an n-of-m approval the
        // reviewer who corrected fields need not be the one who settled it.
        let edits = approval
            .people_outcome()
            .and_then(|o| o.edits)
            .or_else(|| vote.edits.clone());
        let relabel = edits
            .as_ref()
            .and_then(|e| e.get("label"))
            .and_then(Value::as_str)
            .map(str::to_string);
        // A rejection says the action was wrong, not that the label was
        // right: only an approval, or an explicit relabel, confirms a label.
        if relabel.is_none() && vote.verdict != Verdict::Approve {
            return Ok(None);
        }
        let final_label = relabel.unwrap_or_else(|| predicted.clone());
        if final_label.is_empty() {
            return Ok(None);
        }
        let overridden = final_label != predicted;
        let event = self.store.get_event(&run.id).await?;
        self.store
            .put_feedback(&Feedback {
                workflow: run.workflow.clone(),
                run_id: run.id.clone(),
                at: self.clock.now(),
                text: event.map(|e| e.text()).unwrap_or_default(),
                predicted_label: predicted,
                confidence,
                final_label,
                edits,
                reviewer: vote.reviewer.clone(),
                status: FeedbackStatus::Confirmed,
            })
            .await?;
        Ok(Some(overridden))
    }
}

/// The run's outcome: how it ended, whether a person reviewed it, how long
/// the approval waited and whether the reviewer changed the AI's label.
fn outcome_metrics(
    run: &Run,
    status: RunStatus,
    reviewed: bool,
    approval: Option<&Approval>,
    overridden: Option<bool>,
) -> MetricDoc {
    let outcome = match status {
        RunStatus::Failed => Metric::RunsFailed,
        RunStatus::Rejected => Metric::RunsRejected,
        _ => Metric::RunsCompleted,
    };
    let mut doc = MetricDoc::workflow(&run.workflow)
        .count(outcome)
        .property("run_id", run.id.to_string());
    if status != RunStatus::Failed {
        doc = doc.count(if reviewed {
            Metric::Reviewed
        } else {
            Metric::AutoResolved
        });
    }
    if let Some((approval, decided_at)) = approval.and_then(|a| Some((a, a.decided_at?))) {
        let waited = (decided_at - approval.created_at).num_milliseconds().max(0);
        let overdue = decided_at > approval.expires_at;
        doc = doc
            .value(Metric::ApprovalLatency, waited as f64)
            .value(Metric::ApprovalsOverdue, f64::from(u8::from(overdue)));
    }
    if let Some(overridden) = overridden {
        doc = doc.value(Metric::Override, if overridden { 1.0 } else { 0.0 });
    }
    doc
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
