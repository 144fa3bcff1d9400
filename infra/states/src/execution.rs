//! The step-wise engine API the host drives: start an execution, advance it, feed task results
//! and token callbacks, persist it (it is plain serde data) and resume it later.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::ExecutionInfo;
use crate::definition::StateMachine;
use crate::error::{names, Failure};
use crate::frame::{DetachedFrame, DetachedFrameRef, Frame, Shared, TaskRequest, TaskWait};
use crate::history::{json_text, History, HistoryEvent};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Status {
    Running,
    Succeeded(Value),
    Failed(Failure),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("no open task with id {0}")]
    UnknownTask(u64),
    #[error("Invalid token: no open task waits for it")]
    InvalidToken,
    #[error("the execution has already finished")]
    NotRunning,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Execution {
    info: ExecutionInfo,
    input: Value,
    root: Frame,
    history: History,
    next_task: u64,
    status: Status,
    deadline: Option<DateTime<Utc>>,
}

/// [`Execution`] without the top-level definition (and, for
/// [`Execution::to_json_state`], without the history), borrowed for writing.
#[derive(Serialize)]
struct DetachedRef<'a> {
    info: &'a ExecutionInfo,
    input: &'a Value,
    root: DetachedFrameRef<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<&'a History>,
    next_task: u64,
    status: &'a Status,
    deadline: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Detached {
    info: ExecutionInfo,
    input: Value,
    root: DetachedFrame,
    #[serde(default)]
    history: History,
    next_task: u64,
    status: Status,
    deadline: Option<DateTime<Utc>>,
}

impl Execution {
    /// The execution as JSON text without its (shared, large) top-level
    /// definition, for a host that persists at every transition and holds
    /// the definition already: the definition would otherwise be most of
    /// every save. Read back with [`Execution::from_json_detached`].
    pub fn to_json_detached(&self) -> String {
        self.detached_json(Some(&self.history))
    }

    /// Like [`Execution::to_json_detached`] without the history either, for
    /// a host that appends history events as they come (see
    /// [`Execution::history`]): a save then costs the size of the state, not
    /// of everything the execution did so far. Read back with
    /// [`Execution::from_json_state`].
    pub fn to_json_state(&self) -> String {
        self.detached_json(None)
    }

    fn detached_json(&self, history: Option<&History>) -> String {
        serde_json::to_string(&DetachedRef {
            info: &self.info,
            input: &self.input,
            root: self.root.detached(),
            history,
            next_task: self.next_task,
            status: &self.status,
            deadline: self.deadline,
        })
        .expect("executions serialise")
    }

    /// Reads what [`Execution::to_json_state`] wrote, with the history
    /// events saved beside it (in order), under `machine`. Given no events,
    /// it keeps a history the text carries itself, so what
    /// [`Execution::to_json_detached`] wrote reads back too.
    pub fn from_json_state(
        text: &str,
        history: Vec<HistoryEvent>,
        machine: Arc<StateMachine>,
    ) -> Result<Execution, serde_json::Error> {
        if let Some((i, e)) = (1..).zip(&history).find(|(i, e)| e.id != *i) {
            return Err(serde::de::Error::custom(format!(
                "history event {i} is missing (found event {} in its place)",
                e.id
            )));
        }
        let mut execution = Self::from_json_detached(text, machine)?;
        if !history.is_empty() {
            execution.history = History::from_events(history);
        }
        Ok(execution)
    }

    /// Reads what [`Execution::to_json_detached`] wrote, under `machine`.
    pub fn from_json_detached(
        text: &str,
        machine: Arc<StateMachine>,
    ) -> Result<Execution, serde_json::Error> {
        let d: Detached = serde_json::from_str(text)?;
        Ok(Execution {
            info: d.info,
            input: d.input,
            root: Frame::attach(d.root, machine),
            history: d.history,
            next_task: d.next_task,
            status: d.status,
            deadline: d.deadline,
        })
    }

    /// Open `.waitForTaskToken` tasks already handed over: after a restart
    /// they wait for their callback and are not requested again.
    pub fn submitted_task_ids(&self) -> Vec<u64> {
        let mut out = Vec::new();
        self.root.open_tasks(&mut out);
        out.into_iter()
            .filter(|t| t.submitted)
            .map(|t| t.request.id)
            .collect()
    }

    /// Creates the execution and records `ExecutionStarted`; call [`Execution::advance`] to run it.
    pub fn start(machine: Arc<StateMachine>, input: Value, info: ExecutionInfo) -> Execution {
        let mut history = History::default();
        let input_json = json_text(&input);
        // `{"input": …, "roleArn": …}`, reusing the input's text for the first state's entry.
        let details = format!(
            "{{\"input\":{input_json},\"roleArn\":{}}}",
            json_text(&Value::String(info.role_arn.clone()))
        );
        history.record_details(info.start_time, "ExecutionStarted", details);
        let deadline = machine
            .timeout_seconds
            .map(|s| info.start_time + chrono::Duration::seconds(s as i64));
        Execution {
            root: Frame::new(machine, input.clone(), Default::default())
                .with_input_json(input_json),
            info,
            input,
            history,
            next_task: 0,
            status: Status::Running,
            deadline,
        }
    }

    /// Runs every transition that is due at `now` and returns the tasks newly handed to the host.
    pub fn advance(&mut self, now: DateTime<Utc>) -> Vec<TaskRequest> {
        let mut issued = Vec::new();
        if self.status != Status::Running {
            return issued;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.finish(
                now,
                Err(Failure::new(names::TIMEOUT, "The execution timed out")),
            );
            return issued;
        }
        let mut shared = Shared {
            now,
            info: &self.info,
            input: &self.input,
            history: &mut self.history,
            next_task: &mut self.next_task,
            issued: &mut issued,
        };
        self.root.run(&mut shared);
        if let Some(outcome) = self.root.outcome().cloned() {
            self.finish(now, outcome);
        }
        issued
    }

    fn finish(&mut self, now: DateTime<Utc>, outcome: Result<Value, Failure>) {
        self.status = match outcome {
            Ok(output) => {
                match self.root.take_output_json() {
                    Some(text) => {
                        self.history
                            .record_text(now, "ExecutionSucceeded", None, "output", &text)
                    }
                    None => {
                        self.history
                            .record_io(now, "ExecutionSucceeded", None, "output", &output)
                    }
                };
                Status::Succeeded(output)
            }
            Err(f) => {
                self.history.record(
                    now,
                    "ExecutionFailed",
                    json!({"error": f.error, "cause": f.cause}),
                );
                Status::Failed(f)
            }
        };
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn info(&self) -> &ExecutionInfo {
        &self.info
    }

    pub fn history(&self) -> &[HistoryEvent] {
        self.history.events()
    }

    /// When the host should call [`Execution::advance`] again if nothing else happens first
    /// (a Wait, a retry back-off, a task or heartbeat timeout).
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        if self.status != Status::Running {
            return None;
        }
        match (self.root.next_wake(), self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Tasks still waiting for a result; after a restart the host re-dispatches these.
    pub fn open_tasks(&self) -> Vec<TaskRequest> {
        let mut out = Vec::new();
        self.root.open_tasks(&mut out);
        out.into_iter().map(|t| t.request.clone()).collect()
    }

    /// The host's result for task `id`. For `.waitForTaskToken` tasks this only records that
    /// the task was handed over; the token callback completes it.
    pub fn task_succeeded(
        &mut self,
        now: DateTime<Utc>,
        id: u64,
        output: Value,
    ) -> Result<(), CallbackError> {
        let is_token_task = self.open_task(id)?.request.token.is_some();
        let kind = if is_token_task {
            "TaskSubmitted"
        } else {
            "TaskSucceeded"
        };
        self.history.record_io(now, kind, None, "output", &output);
        let task = self.open_task(id)?;
        if is_token_task {
            task.submitted = true;
        } else {
            task.settle(Ok(output));
        }
        Ok(())
    }

    pub fn task_failed(
        &mut self,
        now: DateTime<Utc>,
        id: u64,
        failure: Failure,
    ) -> Result<(), CallbackError> {
        self.fail_task(now, failure, |e| e.open_task(id))
    }

    /// SendTaskSuccess.
    pub fn send_task_success(
        &mut self,
        now: DateTime<Utc>,
        token: &str,
        output: Value,
    ) -> Result<(), CallbackError> {
        self.token_task(token)?;
        self.history
            .record_io(now, "TaskSucceeded", None, "output", &output);
        self.token_task(token)?.settle(Ok(output));
        Ok(())
    }

    /// SendTaskFailure.
    pub fn send_task_failure(
        &mut self,
        now: DateTime<Utc>,
        token: &str,
        failure: Failure,
    ) -> Result<(), CallbackError> {
        self.fail_task(now, failure, |e| e.token_task(token))
    }

    /// SendTaskHeartbeat: pushes the HeartbeatSeconds deadline out.
    pub fn send_task_heartbeat(
        &mut self,
        now: DateTime<Utc>,
        token: &str,
    ) -> Result<(), CallbackError> {
        self.token_task(token)?.heartbeat(now);
        Ok(())
    }

    /// StopExecution.
    pub fn stop(&mut self, now: DateTime<Utc>, error: Option<String>, cause: Option<String>) {
        if self.status == Status::Running {
            self.history.record(
                now,
                "ExecutionAborted",
                json!({"error": error, "cause": cause}),
            );
            self.status = Status::Failed(Failure { error, cause });
        }
    }

    /// Settles the task `find` names as failed; one it does not find records nothing.
    fn fail_task(
        &mut self,
        now: DateTime<Utc>,
        failure: Failure,
        find: impl FnOnce(&mut Self) -> Result<&mut TaskWait, CallbackError>,
    ) -> Result<(), CallbackError> {
        find(self)?.settle(Err(failure.clone()));
        self.history.record(
            now,
            "TaskFailed",
            json!({"error": failure.error, "cause": failure.cause}),
        );
        Ok(())
    }

    fn open_task(&mut self, id: u64) -> Result<&mut TaskWait, CallbackError> {
        if self.status != Status::Running {
            return Err(CallbackError::NotRunning);
        }
        self.root
            .find_task(&|t| t.request.id == id)
            .ok_or(CallbackError::UnknownTask(id))
    }

    fn token_task(&mut self, token: &str) -> Result<&mut TaskWait, CallbackError> {
        if self.status != Status::Running {
            return Err(CallbackError::NotRunning);
        }
        self.root
            .find_task(&|t| t.is_open() && t.request.token.as_deref() == Some(token))
            .ok_or(CallbackError::InvalidToken)
    }
}
