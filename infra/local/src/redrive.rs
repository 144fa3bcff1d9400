//! `handoff redrive RUN_ID`: a failed run again from the step that failed.
//!
//! When the decision exists (the run failed in `act`), the act stage runs
//! again in-process and then finalize: actions that completed are skipped
//! by their idempotency keys, the failed ones are sent again with the same
//! key. A run that failed earlier starts a new execution of the state
//! machine for the same run; the stages before `act` reuse what they stored
//! (the context, its HTTP lookups, the AI output).

use anyhow::{anyhow, bail};
use handoff_core::domain::*;
use handoff_core::ports::{Approvals, RunData, Runs, Slot, StoreError};
use handoff_core::stages::audit;
use handoff_core::stages::finalize::{FinalizeInput, TaskFailure};
use serde_json::json;

use crate::stack::Stack;

/// Where the redriven run went on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redriven {
    /// Act and finalize ran again; the run's status now.
    Act(RunStatus),
    /// A new execution of the state machine, by this name.
    Execution(String),
}

pub async fn redrive(stack: &Stack, run_id: &RunId) -> anyhow::Result<Redriven> {
    let store = stack.store.as_ref();
    let run = store
        .get_run(run_id)
        .await?
        .ok_or_else(|| anyhow!("no run {run_id}"))?;
    if run.status != RunStatus::Failed {
        bail!(
            "run {run_id} is {}; only failed runs are redriven",
            run.status.as_str()
        );
    }
    let from = failed_step(stack, &run).await?;
    let now = stack.clock.now();
    match store
        .transition(run_id, &[RunStatus::Failed], RunStatus::Running, from, now)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => bail!("run {run_id} changed while being redriven"),
        Err(e) => return Err(e.into()),
    }
    let mut summary = run.summary.clone();
    summary.error = None;
    store.set_summary(run_id, &summary).await?;
    audit::record(
        store,
        stack.clock.as_ref(),
        run_id,
        from,
        "run.redriven",
        json!({ "from": from.as_str(), "previous_error": run.summary.error }),
    )
    .await?;
    let input = RunRef {
        run_id: run_id.clone(),
        workflow: run.workflow.clone(),
    };
    if from != Stage::Act {
        let name = format!("{run_id}-redrive-{}", now.timestamp_millis());
        stack
            .host
            .start(&name, json!({ "run_id": run_id, "workflow": run.workflow }))
            .await?;
        return Ok(Redriven::Execution(name));
    }
    let stages = stack.host.stages();
    let failure = match stages.act.run(&input).await {
        Ok(_) => None,
        Err(e) => Some(TaskFailure {
            error: e.name().to_string(),
            cause: e.to_string(),
        }),
    };
    stages
        .finalize
        .run(&FinalizeInput {
            run_id: run_id.clone(),
            workflow: run.workflow.clone(),
            failure,
        })
        .await?;
    let status = store
        .get_run(run_id)
        .await?
        .map_or(RunStatus::Failed, |r| r.status);
    Ok(Redriven::Act(status))
}

/// The first stage whose output is missing; `act` once the decision exists.
async fn failed_step(stack: &Stack, run: &Run) -> anyhow::Result<Stage> {
    let store = stack.store.as_ref();
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
    )?;
    let approved = store
        .approvals_of_run(&run.id)
        .await?
        .iter()
        .any(|a| a.status == ApprovalStatus::Approved);
    if decision.needs_approval && !approved {
        bail!(
            "run {} failed before its approval was decided; send the event again to start a new run",
            run.id
        );
    }
    Ok(Stage::Act)
}
