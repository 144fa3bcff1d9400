use serde::{Deserialize, Serialize};

/// Error names AWS raises itself; Retry and Catch match them by string.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const RUNTIME: &str = "States.Runtime";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const QUERY_EVALUATION: &str = "States.QueryEvaluationError";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE: &str = "States.ExceedToleratedFailureThreshold";
}

/// How a state, a branch or the whole execution failed: AWS allows both parts to be null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure {
            error: Some(error.into()),
            cause: Some(cause.into()),
        }
    }

    pub fn error_name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// The `{"Error", "Cause"}` object Catch hands to the next state.
    pub fn to_output(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        if let Some(e) = &self.error {
            out.insert("Error".into(), e.clone().into());
        }
        if let Some(c) = &self.cause {
            out.insert("Cause".into(), c.clone().into());
        }
        serde_json::Value::Object(out)
    }
}

/// A failure raised while evaluating a state's fields, before it is tied to a state and event id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {message}")]
pub struct Fault {
    pub error: &'static str,
    pub message: String,
}

impl Fault {
    pub fn runtime(message: impl Into<String>) -> Self {
        Fault {
            error: names::RUNTIME,
            message: message.into(),
        }
    }

    pub fn query(message: impl Into<String>) -> Self {
        Fault {
            error: names::QUERY_EVALUATION,
            message: message.into(),
        }
    }

    pub fn intrinsic(message: impl Into<String>) -> Self {
        Fault {
            error: names::INTRINSIC_FAILURE,
            message: message.into(),
        }
    }

    pub fn in_state(self, state: &str, entered_event: u64) -> Failure {
        Failure::new(
            self.error,
            format!(
                "An error occurred while executing the state '{state}' (entered at the event id #{entered_event}). {}",
                self.message
            ),
        )
    }
}

/// A definition that cannot be loaded at all (the validator reports the finer problems).
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("definition is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}
