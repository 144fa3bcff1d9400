//! A failed run again, from the step that failed, as a new execution of the
//! state machine. Step Functions' own redrive cannot do this here: every task
//! error is caught into `RecordFailure` → `Failed`, so the unsuccessful step
//! it would resume is the `Failed` state itself.
//!
//! When the decision exists (the run failed in `act`, after its approval if
//! it needed one) the execution starts at `Act` (`resume_at`): actions that
//! completed are skipped by their idempotency keys, failed ones are sent
//! again with the same key. A run that failed earlier starts from the top;
//! the stages reuse what they stored (the context, its lookups, the AI output).

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::domain::*;
use crate::ports::*;
use crate::stages::{audit, StageError};

/// The state machine's input field naming the state a redrive resumes at.
pub const RESUME_AT: &str = "resume_at";

pub struct Redrive {
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
    #[error(
        "run {0} failed before its approval was decided; send the event again to start a new run"
    )]
    BeforeApproval(RunId),
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
        let from = self.failed_step(&run).await?;
        let now = self.clock.now();
        match store
            .transition(run_id, &[RunStatus::Failed], RunStatus::Running, from, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(RedriveError::Changed(run.id)),
            Err(e) => return Err(e.into()),
        }
        let mut summary = run.summary.clone();
        summary.error = None;
        store.set_summary(run_id, &summary).await?;
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
        if from == Stage::Act {
            input[RESUME_AT] = json!("Act");
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

    /// The first stage whose output is missing; `act` once the decision
    /// exists and, when it needed one, its approval was given.
    async fn failed_step(&self, run: &Run) -> Result<Stage, RedriveError> {
        let store = self.store.as_ref();
        for (slot, stage) in [
            (Slot::Context, Stage::Context),
            (Slot::Ai, Stage::Reason),
            (Slot::Decision, Stage::Decide),
        ] {
            if store.get_slot(&run.id, &slot).await?.is_none() {
                return Ok(stage);
            }
        }
        let decision: Decision = serde_json::from_value(
            store
                .get_slot(&run.id, &Slot::Decision)
                .await?
                .unwrap_or_default(),
        )
        .map_err(|e| StageError::Invalid(format!("stored decision: {e}")))?;
        let approved = store
            .approvals_of_run(&run.id)
            .await?
            .iter()
            .any(|a| a.status == ApprovalStatus::Approved);
        if decision.needs_approval && !approved {
            return Err(RedriveError::BeforeApproval(run.id.clone()));
        }
        Ok(Stage::Act)
    }
}
