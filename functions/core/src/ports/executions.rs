use async_trait::async_trait;

use crate::domain::TaskToken;

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The task token is no longer waiting: timed out, already answered,
    /// or the execution ended. One domain error for the engine's three.
    #[error("approval no longer open: {0}")]
    TaskClosed(String),
    #[error("execution service unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New,
    /// An execution with this name exists: the run was started before.
    AlreadyStarted,
}

#[async_trait]
pub trait Executions: Send + Sync {
    /// Starts the state machine. A run's first execution is named by its
    /// run id (so a redelivered message starts nothing new); a redrive gets
    /// a name of its own.
    async fn start(&self, name: &str, input: &serde_json::Value)
        -> Result<Started, ExecutionError>;
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), ExecutionError>;
}
