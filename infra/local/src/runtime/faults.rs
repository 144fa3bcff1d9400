//! Injected faults for the whole-system tests: the real binary, with one
//! dependency failing the way a cloud service fails. Off unless the
//! environment asks for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use handoff_core::domain::TaskToken;
use handoff_core::ports::{ExecutionError, Executions, Started};
use serde_json::Value;

/// `HANDOFF_FAULT_TASK_ANSWERS=n`: the first n SendTaskSuccess calls fail
/// as an unavailable Step Functions would.
pub const TASK_ANSWER_FAULTS: &str = "HANDOFF_FAULT_TASK_ANSWERS";

/// `inner`, or `inner` behind the faults the environment asks for.
pub fn executions_from_env(inner: Arc<dyn Executions>) -> Arc<dyn Executions> {
    match std::env::var(TASK_ANSWER_FAULTS)
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        Some(n) if n > 0 => {
            tracing::warn!(failures = n, "{TASK_ANSWER_FAULTS}: task answers will fail");
            Arc::new(FailingAnswers {
                inner,
                remaining: AtomicUsize::new(n),
            })
        }
        _ => inner,
    }
}

struct FailingAnswers {
    inner: Arc<dyn Executions>,
    remaining: AtomicUsize,
}

#[async_trait]
impl Executions for FailingAnswers {
    async fn start(&self, name: &str, input: &Value) -> Result<Started, ExecutionError> {
        self.inner.start(name, input).await
    }

    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &Value,
    ) -> Result<(), ExecutionError> {
        let failing = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(ExecutionError::Unavailable("injected fault".into()));
        }
        self.inner.send_task_success(token, output).await
    }
}
