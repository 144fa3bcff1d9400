//! Task states' resources, resolved to the in-process stages: what
//! `arn:aws:states:::lambda:invoke` does in AWS with the function the
//! template's `DefinitionSubstitutions` named.

use std::collections::HashMap;

use handoff_core::domain::RunRef;
use handoff_core::stages::approval::{ApprovalStage, ApprovalTask};
use handoff_core::stages::{
    act::Act, context::ContextStage, decide::Decide, finalize::Finalize, finalize::FinalizeInput,
    reason::Reason, StageError,
};
use handoff_states::{Failure, TaskRequest};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tracing::Instrument;

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// The stage a function's binary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageKind {
    Context,
    Reason,
    Decide,
    Approval,
    Act,
    Finalize,
}

impl StageKind {
    /// From `Metadata.BuildProperties.Binary`; `None` for functions the
    /// state machine does not invoke (ingest, starter, callback, api).
    pub fn from_binary(binary: &str) -> Option<Self> {
        Some(match binary {
            "context" => StageKind::Context,
            "reason" => StageKind::Reason,
            "decide" => StageKind::Decide,
            "approval" => StageKind::Approval,
            "act" => StageKind::Act,
            "finalize" => StageKind::Finalize,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            StageKind::Context => "context",
            StageKind::Reason => "reason",
            StageKind::Decide => "decide",
            StageKind::Approval => "approval",
            StageKind::Act => "act",
            StageKind::Finalize => "finalize",
        }
    }
}

/// The stages the state machine invokes, and which function ARN is which.
pub struct TaskStages {
    pub context: ContextStage,
    pub reason: Reason,
    pub decide: Decide,
    pub approval: ApprovalStage,
    pub act: Act,
    pub finalize: Finalize,
    /// Substituted function ARN (and logical id) → stage.
    pub functions: HashMap<String, StageKind>,
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
        let run_id = payload
            .get("run_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let span = tracing::info_span!("stage", stage = kind.name(), %run_id, state = %task.state);
        let result = self.run(kind, payload).instrument(span).await;
        match result {
            Ok(value) => Ok(json!({ "Payload": value, "StatusCode": 200 })),
            Err(e) => Err(Failure::new(e.name(), e.to_string())),
        }
    }

    async fn run(&self, kind: StageKind, payload: Value) -> Result<Value, StageError> {
        match kind {
            StageKind::Context => self.context.run(&input::<RunRef>(payload)?).await,
            StageKind::Reason => self.reason.run(&input::<RunRef>(payload)?).await,
            StageKind::Decide => self.decide.run(&input::<RunRef>(payload)?).await,
            StageKind::Approval => self.approval.handle(&input::<ApprovalTask>(payload)?).await,
            StageKind::Act => self.act.run(&input::<RunRef>(payload)?).await,
            StageKind::Finalize => self.finalize.run(&input::<FinalizeInput>(payload)?).await,
        }
    }
}

fn input<T: DeserializeOwned>(payload: Value) -> Result<T, StageError> {
    serde_json::from_value(payload).map_err(|e| StageError::Invalid(format!("task payload: {e}")))
}
