//! The one shell every state-machine task runs in, on Lambda and locally:
//! the input read into the stage's type, a `stage` span with the run's
//! fields, the stage's duration and error metrics, and a warning naming
//! the error the state machine's Retry and Catch will match.

use std::time::Instant;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use crate::domain::{RunRef, Stage};
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::Metrics;
use crate::stages::approval::ApprovalTask;
use crate::stages::finalize::FinalizeInput;
use crate::stages::{act, approval, context, decide, finalize, reason, StageError};

/// A stage the state machine invokes as a task.
#[async_trait]
pub trait StageTask: Send + Sync {
    type Input: DeserializeOwned + Send + Sync;
    const STAGE: Stage;

    /// The run a task is about; `None` for one that is no single run's
    /// (the approval reminders a schedule sends).
    fn run_of(input: &Self::Input) -> Option<RunRef>;

    /// `deadline`: when the invocation running it ends, if it does.
    async fn invoke(
        &self,
        input: &Self::Input,
        deadline: Option<Instant>,
    ) -> Result<Value, StageError>;
}

/// Runs `stage` on `input` inside the shell.
pub async fn run_task<S: StageTask>(
    metrics: &dyn Metrics,
    stage: &S,
    input: &S::Input,
    deadline: Option<Instant>,
) -> Result<Value, StageError> {
    let name = S::STAGE.as_str();
    let Some(run) = S::run_of(input) else {
        let span = tracing::info_span!("stage", stage = name);
        return stage.invoke(input, deadline).instrument(span).await;
    };
    let (run_id, workflow) = (run.run_id.as_str(), run.workflow.as_str());
    let span = tracing::info_span!("stage", stage = name, run_id, workflow, execution = run_id);
    let started = Instant::now();
    let result = stage.invoke(input, deadline).instrument(span.clone()).await;
    let mut doc = MetricDoc::workflow(workflow)
        .dimension("stage", name)
        .value(
            Metric::StageDuration,
            started.elapsed().as_secs_f64() * 1000.0,
        )
        .value(Metric::StageErrors, f64::from(u8::from(result.is_err())))
        .property("run_id", run_id);
    if let Err(e) = &result {
        doc = doc.property("error", e.name());
        span.in_scope(|| tracing::warn!(error = e.name(), "stage failed"));
    }
    metrics.emit(doc);
    result
}

/// [`run_task`] on a JSON payload, as the local runtime receives it; an
/// input the stage cannot read is a validation error.
pub async fn run_json<S: StageTask>(
    metrics: &dyn Metrics,
    stage: &S,
    payload: Value,
) -> Result<Value, StageError> {
    let input: S::Input = serde_json::from_value(payload)
        .map_err(|e| StageError::Invalid(format!("task payload: {e}")))?;
    run_task(metrics, stage, &input, None).await
}

/// A stage that takes the claim check and has no use for the deadline.
macro_rules! claim_check_task {
    ($stage:ty, $name:expr) => {
        #[async_trait]
        impl StageTask for $stage {
            type Input = RunRef;
            const STAGE: Stage = $name;
            fn run_of(input: &RunRef) -> Option<RunRef> {
                Some(input.clone())
            }
            async fn invoke(
                &self,
                input: &RunRef,
                _: Option<Instant>,
            ) -> Result<Value, StageError> {
                self.run(input).await
            }
        }
    };
}

claim_check_task!(context::LoadContext, Stage::Context);
claim_check_task!(reason::Reason, Stage::Reason);
claim_check_task!(decide::Decide, Stage::Decide);

#[async_trait]
impl StageTask for approval::ApprovalTasks {
    type Input = ApprovalTask;
    const STAGE: Stage = Stage::Approval;
    fn run_of(input: &ApprovalTask) -> Option<RunRef> {
        match input {
            ApprovalTask::Request {
                run_id, workflow, ..
            }
            | ApprovalTask::Timeout { run_id, workflow }
            | ApprovalTask::Audit { run_id, workflow } => Some(RunRef {
                run_id: run_id.clone(),
                workflow: workflow.clone(),
            }),
            ApprovalTask::RemindDue {} => None,
        }
    }
    async fn invoke(&self, input: &ApprovalTask, _: Option<Instant>) -> Result<Value, StageError> {
        self.run(input).await
    }
}

#[async_trait]
impl StageTask for act::Act {
    type Input = RunRef;
    const STAGE: Stage = Stage::Act;
    fn run_of(input: &RunRef) -> Option<RunRef> {
        Some(input.clone())
    }
    async fn invoke(&self, input: &RunRef, deadline: Option<Instant>) -> Result<Value, StageError> {
        self.run_until(input, deadline).await
    }
}

#[async_trait]
impl StageTask for finalize::Finalize {
    type Input = FinalizeInput;
    const STAGE: Stage = Stage::Finalize;
    fn run_of(input: &FinalizeInput) -> Option<RunRef> {
        Some(RunRef {
            run_id: input.run_id.clone(),
            workflow: input.workflow.clone(),
        })
    }
    async fn invoke(&self, input: &FinalizeInput, _: Option<Instant>) -> Result<Value, StageError> {
        self.run(input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RunId;
    use crate::memory::RecordingMetrics;

    /// A task that answers what it was scripted to.
    struct Scripted(fn() -> Result<Value, StageError>);

    #[async_trait]
    impl StageTask for Scripted {
        type Input = RunRef;
        const STAGE: Stage = Stage::Decide;
        fn run_of(input: &RunRef) -> Option<RunRef> {
            Some(input.clone())
        }
        async fn invoke(&self, _: &RunRef, _: Option<Instant>) -> Result<Value, StageError> {
            (self.0)()
        }
    }

    fn run(id: &str, workflow: &str) -> Value {
        serde_json::json!({ "run_id": RunId(id.into()), "workflow": workflow })
    }

    #[tokio::test]
    async fn a_failed_stage_reports_its_duration_and_names_its_error() {
        let metrics = RecordingMetrics::default();
        let failing = Scripted(|| Err(StageError::Invalid("no AI result".into())));
        let out = run_json(&metrics, &failing, run("run-1", "support-triage")).await;
        assert_eq!(out.unwrap_err().name(), "Handoff.ValidationError");
        let docs = metrics.documents();
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["workflow", "stage"], []])
        );
        assert_eq!(doc["stage"], "decide");
        assert_eq!(doc["StageErrors"], 1.0);
        assert_eq!(doc["error"], "Handoff.ValidationError");
        assert!(doc["StageDuration"].as_f64().unwrap() >= 0.0);
    }

    #[tokio::test]
    async fn a_stage_that_succeeds_counts_no_error() {
        let metrics = RecordingMetrics::default();
        let ok = Scripted(|| Ok(serde_json::json!(7)));
        let out = run_json(&metrics, &ok, run("run-2", "invoice-approval")).await;
        assert_eq!(out.unwrap(), 7);
        let doc = &metrics.documents()[0];
        assert_eq!(doc["StageErrors"], 0.0);
        assert_eq!(doc["workflow"], "invoice-approval");
        assert_eq!(doc["run_id"], "run-2");
    }

    #[tokio::test]
    async fn an_input_the_stage_cannot_read_is_a_validation_error_and_runs_nothing() {
        let metrics = RecordingMetrics::default();
        let ok = Scripted(|| Ok(Value::Null));
        let out = run_json(&metrics, &ok, serde_json::json!({ "run": 1 })).await;
        assert_eq!(out.unwrap_err().name(), "Handoff.ValidationError");
        assert!(metrics.documents().is_empty());
    }
}
