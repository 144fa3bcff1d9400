//! [`Executions`] on Step Functions: one execution per run, named by the run
//! id so a second start is a no-op, and the task-token callbacks.

#[cfg(all(feature = "moto-tests", feature = "dynamodb"))]
pub mod testing;

use async_trait::async_trait;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use handoff_core::domain::TaskToken;
use handoff_core::ports::{ExecutionError, Executions, Started};

pub struct StepFunctions {
    pub client: aws_sdk_sfn::Client,
    pub state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    pub fn from_config(
        config: &aws_config::SdkConfig,
        state_machine_arn: impl Into<String>,
    ) -> Self {
        Self::new(aws_sdk_sfn::Client::new(config), state_machine_arn)
    }
}

/// The three ways Step Functions says a token is no longer waiting.
const TASK_CLOSED: [&str; 3] = ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"];

/// Maps an engine error by its code: a closed task is the caller's business
/// (a clear page, not a retry); anything else may pass.
fn token_error<E>(err: aws_sdk_sfn::error::SdkError<E>) -> ExecutionError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.code() {
        Some(code) if is_task_closed(code) => {
            ExecutionError::TaskClosed(err.message().unwrap_or(code).to_string())
        }
        _ => ExecutionError::Unavailable(DisplayErrorContext(&err).to_string()),
    }
}

fn is_task_closed(code: &str) -> bool {
    TASK_CLOSED.contains(&code)
}

#[async_trait]
impl Executions for StepFunctions {
    async fn start(
        &self,
        name: &str,
        input: &serde_json::Value,
    ) -> Result<Started, ExecutionError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Started::New),
            Err(err) if err.code() == Some("ExecutionAlreadyExists") => Ok(Started::AlreadyStarted),
            Err(err) => Err(ExecutionError::Unavailable(
                DisplayErrorContext(&err).to_string(),
            )),
        }
    }

    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), ExecutionError> {
        self.client
            .send_task_success()
            .task_token(token.expose())
            .output(output.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(token_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_task_codes_are_told_apart_from_outages() {
        for code in ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"] {
            assert!(is_task_closed(code), "{code}");
        }
        for code in ["ThrottlingException", "InvalidOutput", "ServiceUnavailable"] {
            assert!(!is_task_closed(code), "{code}");
        }
    }
}
