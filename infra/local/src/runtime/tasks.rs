//! Task states' resources, resolved to the in-process stages: what
//! `arn:aws:states:::lambda:invoke` does in AWS with the function the
//! template's `DefinitionSubstitutions` named.

use std::collections::HashMap;

use handoff_core::domain::Stage;
use handoff_core::ports::NoMetrics;
use handoff_core::stages::approval::ApprovalTasks;
use handoff_core::stages::shell::run_json;
use handoff_core::stages::{
    act::Act, context::LoadContext, decide::Decide, finalize::Finalize, reason::Reason, StageError,
};
use handoff_states::{Failure, TaskRequest};
use serde_json::{json, Value};
use tracing::Instrument;

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// The stages the state machine invokes, and which function ARN is which.
pub struct TaskStages {
    pub context: LoadContext,
    pub reason: Reason,
    pub decide: Decide,
    pub approval: ApprovalTasks,
    pub act: Act,
    pub finalize: Finalize,
    /// Substituted function ARN (and logical id) → stage.
    pub functions: HashMap<String, Stage>,
}

impl TaskStages {
    /// Runs one task: `Ok` is the task's output (`{"Payload": …}` as the
    /// Lambda integration returns it), `Err` the failure Retry/Catch match.
    pub async fn invoke(&self, task: &TaskRequest) -> Result<Value, Failure> {
        if !task.resource.starts_with(LAMBDA_INVOKE) {
            return Err(Failure::new(
                "States.Runtime",
                format!("the local runtime cannot run resource {}", task.resource),
            ));
        }
        let function = task
            .payload
            .get("FunctionName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = self.functions.get(function).copied().ok_or_else(|| {
            Failure::new(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {function}"),
            )
        })?;
        let payload = task.payload.get("Payload").cloned().unwrap_or(Value::Null);
        // The state is what a Lambda's log cannot know; the shell's span
        // inside carries the same fields as the Lambda's.
        let span = tracing::info_span!("task", state = %task.state);
        let result = self.run(kind, payload).instrument(span).await;
        match result {
            Ok(value) => Ok(json!({ "Payload": value, "StatusCode": 200 })),
            Err(e) => Err(Failure::new(e.name(), e.to_string())),
        }
    }

    async fn run(&self, stage: Stage, payload: Value) -> Result<Value, StageError> {
        match stage {
            Stage::Context => run_json(&NoMetrics, &self.context, payload).await,
            Stage::Reason => run_json(&NoMetrics, &self.reason, payload).await,
            Stage::Decide => run_json(&NoMetrics, &self.decide, payload).await,
            Stage::Approval => run_json(&NoMetrics, &self.approval, payload).await,
            Stage::Act => run_json(&NoMetrics, &self.act, payload).await,
            Stage::Finalize => run_json(&NoMetrics, &self.finalize, payload).await,
            other => Err(StageError::Invalid(format!(
                "{} is not a state machine task",
                other.as_str()
            ))),
        }
    }
}
