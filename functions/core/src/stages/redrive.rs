//! A failed run again, from the step that failed, as a new execution of the
//! state machine. Step Functions' own redrive cannot do this here: every task
//! error is caught into `RecordFailure` → `Failed`, so the unsuccessful step
//! it would resume is the `Failed` state itself.
//!
//! When the decision exists (the run failed in `act`, after its approval if
//! it needed one) the execution starts at `Act` (`resume_at`): actions that
//! completed are skipped by their idempotency keys, failed ones are sent
//! again with the same key. A run whose decision waits for reviewers who
//! have not decided (its reviewers could not be reached, say) starts at
//! `RequestApproval`: the pending approval, its links and its votes answer
//! the new execution. A run that failed earlier starts from the top; the
//! stages reuse what they stored (the context, its lookups, the AI output).

use std::sync::Arc;

use handoff_spec::Catalog;
use serde::Serialize;
use serde_json::json;

use crate::domain::*;
use crate::ports::*;
use crate::stages::{audit, decide, StageError};

/// The state machine's input field naming the state a redrive resumes at.
pub const RESUME_AT: &str = "resume_at";

pub struct Redrive {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub executions: Arc<dyn Executions>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redriven {
    pub run_id: RunId,
    /// The new execution's name.
    pub execution: String,
    /// The stage the run goes on from.
    pub from: Stage,
}

#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("no run {0}")]
    NotFound(RunId),
    #[error("run {0} is {1}; only failed runs are redriven")]
    NotFailed(RunId, &'static str),
    /// Its reviewers rejected it: a redrive never asks them again.
    #[error("run {0} was rejected by its reviewers; a redrive does not ask again")]
    Rejected(RunId),
    #[error("run {0} changed while being redriven")]
    Changed(RunId),
    #[error(transparent)]
    Stage(#[from] StageError),
}

impl From<StoreError> for RedriveError {
    fn from(e: StoreError) -> Self {
        Self::Stage(e.into())
    }
}

impl Redrive {
    pub async fn run(&self, run_id: &RunId) -> Result<Redriven, RedriveError> {
        let store = self.store.as_ref();
        let run = store
            .get_run(run_id)
            .await?
            .ok_or_else(|| RedriveError::NotFound(run_id.clone()))?;
        if run.status != RunStatus::Failed {
            return Err(RedriveError::NotFailed(run.id, run.status.as_str()));
        }
        let (from, decision) = self.failed_step(&run).await?;
        let workflow = super::workflow(&self.catalog, &run.workflow)?;
        let now = self.clock.now();
        match store
            .transition(run_id, &[RunStatus::Failed], RunStatus::Running, from, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(RedriveError::Changed(run.id)),
            Err(e) => return Err(e.into()),
        }
        let cleared = SummaryUpdate {
            error: Some(None),
            ..SummaryUpdate::default()
        };
        store.update_summary(run_id, &cleared).await?;
        let execution = format!("{run_id}-redrive-{}", now.timestamp_millis());
        audit::record(
            store,
            self.clock.as_ref(),
            run_id,
            from,
            "run.redriven",
            json!({
                "from": from.as_str(),
                "execution": execution,
                "previous_error": run.summary.error,
            }),
        )
        .await?;
        let mut input = json!({ "run_id": run_id, "workflow": run.workflow });
        if let Some(state) = resume_state(from) {
            input[RESUME_AT] = json!(state);
        }
        if from == Stage::Approval {
            // The approval request reads its timeout from Decide's result.
            if let Some(decision) = &decision {
                input["decide"] = json!({ "result": decide::state_result(decision, workflow) });
            }
        }
        self.executions
            .start(&execution, &input)
            .await
            .map_err(StageError::from)?;
        Ok(Redriven {
            run_id: run.id,
            execution,
            from,
        })
    }

    /// The first stage whose output is missing; `approval` while a decision
    /// that needs one waits for its reviewers; `act` once the decision
    /// exists and, when it needed one, its approval was given. With the
    /// stored decision, once there is one.
    async fn failed_step(&self, run: &Run) -> Result<(Stage, Option<Decision>), RedriveError> {
        let store = self.store.as_ref();
        for (slot, stage) in [(Slot::Context, Stage::Context), (Slot::Ai, Stage::Reason)] {
            if store.get_slot(&run.id, &slot).await?.is_none() {
                return Ok((stage, None));
            }
        }
        let Some(decision) = store.get_slot(&run.id, &Slot::Decision).await? else {
            return Ok((Stage::Decide, None));
        };
        let decision: Decision = serde_json::from_value(decision)
            .map_err(|e| StageError::Invalid(format!("stored decision: {e}")))?;
        if !decision.needs_approval {
            return Ok((Stage::Act, Some(decision)));
        }
        let approvals = store.approvals_of_run(&run.id).await?;
        let has = |status| approvals.iter().any(|a| a.status == status);
        let from = if has(ApprovalStatus::Approved) {
            Stage::Act
        } else if has(ApprovalStatus::Rejected) {
            return Err(RedriveError::Rejected(run.id.clone()));
        } else {
            Stage::Approval
        };
        Ok((from, Some(decision)))
    }
}

/// The state of the shipped state machine a redrive from `stage` resumes
/// at; `None` starts from the top.
fn resume_state(stage: Stage) -> Option<&'static str> {
    match stage {
        Stage::Act => Some("Act"),
        Stage::Approval => Some("RequestApproval"),
        _ => None,
    }
}
