use crate::ports::{
    ActionError, ExecutionError, ModelError, NotifyError, QueueError, SecretError, StoreError,
};

/// A stage's failure. `name()` is the Step Functions error name the state
/// machine's Retry and Catch match on.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("unknown workflow `{0}`")]
    UnknownWorkflow(String),
    #[error("run `{0}` not found")]
    RunNotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A context lookup whose policy is `on_failure: fail` did not answer.
    #[error("context lookup `{lookup}` failed: {reason}")]
    Lookup { lookup: String, reason: String },
    #[error("action `{action}` failed: {source}")]
    Action {
        action: String,
        #[source]
        source: ActionError,
    },
}

impl StageError {
    pub fn name(&self) -> &'static str {
        match self {
            StageError::UnknownWorkflow(_)
            | StageError::RunNotFound(_)
            | StageError::Invalid(_) => "Handoff.ValidationError",
            StageError::Store(StoreError::Conflict(_)) => "Handoff.Conflict",
            StageError::Store(_)
            | StageError::Queue(_)
            | StageError::Execution(_)
            | StageError::Secret(_) => "Handoff.Unavailable",
            StageError::Model(_) => "Handoff.ModelError",
            StageError::Notify(_) => "Handoff.NotifyError",
            // A refusal is final; retries ran out on a fault that may pass,
            // so the state machine retries the stage later.
            StageError::Action {
                source: ActionError::Rejected { .. },
                ..
            } => "Handoff.ActionRejected",
            StageError::Action { .. } => "Handoff.ActionFailed",
            StageError::Lookup { .. } => "Handoff.LookupFailed",
        }
    }
}
