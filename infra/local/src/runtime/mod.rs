//! The engine host: runs state machine executions in-process, the way Step
//! Functions runs them in AWS.
//!
//! Every change to an execution (started, advanced, a task's result, a token
//! callback, a timer) is persisted through [`ExecutionLog`] before anything
//! that depends on it happens, so a killed process loses nothing: on start,
//! [`Host::resume`] reloads every running execution, fires the timers that
//! came due meanwhile and runs again the tasks that were in flight
//! (at-least-once, as Lambda retries are; the stages are idempotent).

pub mod faults;
mod intake;
mod tasks;

pub use intake::{intake_loop, LocalIntake};
pub use tasks::TaskStages;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use handoff_core::domain::TaskToken;
use handoff_core::ports::{Clock, ExecutionError, Executions, Started, StoreError};
use handoff_states::{
    CallbackError, Execution, ExecutionInfo, Failure, HistoryEvent, StateMachine, Status,
    TaskRequest,
};
use serde_json::Value;
use tracing::{debug, warn};

use crate::store::{ExecutionLog, StoredExecution};

/// One execution in memory, behind its own lock so transitions of one run
/// are serial while runs proceed side by side.
struct Live {
    execution: Execution,
    /// The timer already armed, so each wake arms one.
    wake_at: Option<DateTime<Utc>>,
    /// History events in the log already: a save appends the rest.
    saved_events: usize,
}

pub struct Host {
    machine: Arc<StateMachine>,
    machine_name: String,
    stages: TaskStages,
    log: Arc<dyn ExecutionLog>,
    clock: Arc<dyn Clock>,
    live: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Live>>>>,
    /// Held while an execution is loaded into or parked out of memory.
    loads: tokio::sync::Mutex<()>,
    finished: tokio::sync::broadcast::Sender<String>,
}

impl Host {
    pub fn new(
        machine: Arc<StateMachine>,
        machine_name: &str,
        stages: TaskStages,
        log: Arc<dyn ExecutionLog>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Arc::new(Host {
            machine,
            machine_name: machine_name.to_string(),
            stages,
            log,
            clock,
            live: Mutex::new(HashMap::new()),
            loads: tokio::sync::Mutex::new(()),
            finished: tokio::sync::broadcast::channel(1024).0,
        })
    }

    /// Names of executions as they finish.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.finished.subscribe()
    }

    /// Executions in memory (running ones).
    pub fn running(&self) -> usize {
        self.live.lock().expect("live map").len()
    }

    /// Starts an execution named `name`; a second start of the same name is
    /// a no-op (`AlreadyStarted`), as in Step Functions.
    pub async fn start(self: &Arc<Self>, name: &str, input: Value) -> Result<Started, StoreError> {
        if self.live.lock().expect("live map").contains_key(name) {
            return Ok(Started::AlreadyStarted);
        }
        let now = self.clock.now();
        let info = ExecutionInfo::local(&self.machine_name, name, now);
        let execution = Execution::start(self.machine.clone(), input, info);
        let stored = self.stored(name, &execution, 0, now);
        if !self.log.create_execution(&stored).await? {
            return Ok(Started::AlreadyStarted);
        }
        let saved_events = execution.history().len();
        self.insert_live(name, execution, saved_events);
        self.step(name, |_, _| Ok(())).await.map_err(|e| match e {
            StepError::Store(e) => e,
            other => StoreError::Unavailable(other.to_string()),
        })?;
        Ok(Started::New)
    }

    /// Picks up every execution a previous process left running.
    pub async fn resume(self: &Arc<Self>) -> Result<usize, StoreError> {
        let running = self.log.running_executions().await?;
        let count = running.len();
        for stored in running {
            let execution = match self.restore(&stored) {
                Ok(e) => e,
                Err(e) => {
                    warn!(execution = %stored.name, error = %e, "cannot resume execution");
                    continue;
                }
            };
            let submitted: HashSet<u64> = execution.submitted_task_ids().into_iter().collect();
            let in_flight: Vec<TaskRequest> = execution
                .open_tasks()
                .into_iter()
                .filter(|t| !submitted.contains(&t.id))
                .collect();
            self.insert_live(&stored.name, execution, stored.history.len());
            // Due timers first: a task that timed out meanwhile is not re-run.
            match self.step(&stored.name, |_, _| Ok(())).await {
                Ok(issued) => {
                    let issued: HashSet<u64> = issued.into_iter().collect();
                    let still_open: HashSet<u64> =
                        self.open_task_ids(&stored.name).await.unwrap_or_default();
                    for task in in_flight {
                        if !issued.contains(&task.id) && still_open.contains(&task.id) {
                            debug!(execution = %stored.name, state = %task.state, "re-running interrupted task");
                            self.dispatch(&stored.name, task);
                        }
                    }
                }
                Err(e) => warn!(execution = %stored.name, error = %e, "resume failed"),
            }
        }
        Ok(count)
    }

    /// The execution as persisted, without the (shared, large) definition
    /// and with only the history events after the first `saved_events`:
    /// every save would otherwise write the whole state machine and
    /// everything the execution did so far again.
    fn stored(
        &self,
        name: &str,
        execution: &Execution,
        saved_events: usize,
        now: DateTime<Utc>,
    ) -> StoredExecution {
        let new_events = execution.history().get(saved_events..).unwrap_or_default();
        StoredExecution {
            name: name.to_string(),
            state: execution.to_json_state(),
            history: new_events
                .iter()
                .map(|e| {
                    let text = serde_json::to_string(e).expect("history events serialise");
                    (e.id, text)
                })
                .collect(),
            status: status_name(execution).to_string(),
            next_wake: execution.next_wake(),
            updated_at: now,
        }
    }

    /// The inverse of [`Host::stored`]: puts this process's definition back.
    fn restore(&self, stored: &StoredExecution) -> Result<Execution, serde_json::Error> {
        let history = stored
            .history
            .iter()
            .map(|(_, text)| serde_json::from_str::<HistoryEvent>(text))
            .collect::<Result<Vec<_>, _>>()?;
        Execution::from_json_state(&stored.state, history, self.machine.clone())
    }

    async fn open_task_ids(&self, name: &str) -> Option<HashSet<u64>> {
        let live = self.live.lock().expect("live map").get(name).cloned()?;
        let live = live.lock().await;
        Some(live.execution.open_tasks().iter().map(|t| t.id).collect())
    }

    fn insert_live(&self, name: &str, execution: Execution, saved_events: usize) {
        let live = Live::new(execution, saved_events);
        self.live
            .lock()
            .expect("live map")
            .insert(name.to_string(), Arc::new(tokio::sync::Mutex::new(live)));
    }

    async fn live(&self, name: &str) -> Result<Arc<tokio::sync::Mutex<Live>>, StepError> {
        if let Some(live) = self.live.lock().expect("live map").get(name).cloned() {
            return Ok(live);
        }
        // Not in memory: parked, finished, or never started here. One load
        // at a time, so a copy read from the log is never older than one a
        // concurrent step saved and parked meanwhile.
        let _loading = self.loads.lock().await;
        if let Some(live) = self.live.lock().expect("live map").get(name).cloned() {
            return Ok(live);
        }
        match self.log.load_execution(name).await? {
            Some(s) if s.status == "RUNNING" => {
                let execution = self
                    .restore(&s)
                    .map_err(|e| StepError::Store(StoreError::Unavailable(e.to_string())))?;
                let mut map = self.live.lock().expect("live map");
                Ok(map
                    .entry(name.to_string())
                    .or_insert_with(|| {
                        Arc::new(tokio::sync::Mutex::new(Live::new(
                            execution,
                            s.history.len(),
                        )))
                    })
                    .clone())
            }
            Some(_) => Err(StepError::Callback(CallbackError::NotRunning)),
            None => Err(StepError::NoExecution(name.to_string())),
        }
    }

    /// Applies `change`, advances, persists, then hands out the new tasks
    /// and arms the next timer. Returns the ids of the tasks it issued.
    async fn step(
        self: &Arc<Self>,
        name: &str,
        change: impl FnOnce(&mut Execution, DateTime<Utc>) -> Result<(), CallbackError>,
    ) -> Result<Vec<u64>, StepError> {
        let live = self.live(name).await?;
        let mut guard = live.lock().await;
        let now = self.clock.now();
        change(&mut guard.execution, now)?;
        let issued = guard.execution.advance(now);
        let snapshot = self.stored(name, &guard.execution, guard.saved_events, now);
        let tokens: Vec<String> = guard
            .execution
            .open_tasks()
            .into_iter()
            .filter_map(|t| t.token)
            .collect();
        self.log.save_execution(&snapshot, &tokens).await?;
        guard.saved_events = guard.execution.history().len();
        let running = *guard.execution.status() == Status::Running;
        if running {
            if let Some(at) = guard.execution.next_wake() {
                if guard.wake_at.is_none_or(|armed| at < armed) {
                    guard.wake_at = Some(at);
                    self.arm(name, at);
                }
            }
        }
        // Only waiting for callbacks (an approval): nothing to keep in memory;
        // the next callback or timer loads it again.
        let open = guard.execution.open_tasks();
        let parked = running && !open.is_empty() && open.iter().all(|t| t.token.is_some()) && {
            let submitted = guard.execution.submitted_task_ids();
            open.iter().all(|t| submitted.contains(&t.id))
        };
        drop(guard);
        if !running {
            self.live.lock().expect("live map").remove(name);
            let _ = self.finished.send(name.to_string());
        } else if parked {
            let _loading = self.loads.lock().await;
            let mut map = self.live.lock().expect("live map");
            // Evict only if no other step holds this copy.
            if map
                .get(name)
                .is_some_and(|l| Arc::ptr_eq(l, &live) && Arc::strong_count(&live) == 2)
            {
                map.remove(name);
            }
        }
        let ids = issued.iter().map(|t| t.id).collect();
        for task in issued {
            self.dispatch(name, task);
        }
        Ok(ids)
    }

    fn arm(self: &Arc<Self>, name: &str, at: DateTime<Utc>) {
        let host = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let wait = (at - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            let live = host.live.lock().expect("live map").get(&name).cloned();
            // Not in memory: parked or finished; the step loads it if it runs.
            if let Some(live) = live {
                let mut guard = live.lock().await;
                if guard.wake_at == Some(at) {
                    guard.wake_at = None;
                }
            }
            match host.step(&name, |_, _| Ok(())).await {
                Ok(_) | Err(StepError::Callback(CallbackError::NotRunning)) => {}
                Err(e) => warn!(execution = %name, error = %e, "timer step failed"),
            }
        });
    }

    fn dispatch(self: &Arc<Self>, name: &str, task: TaskRequest) {
        let host = self.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            let id = task.id;
            // Its own task, so a panicking stage fails the task (as a crashed
            // Lambda does) instead of leaving the execution waiting forever.
            let invoked = {
                let host = host.clone();
                tokio::spawn(async move { host.stages.invoke(&task).await })
            };
            let outcome = match invoked.await {
                Ok(outcome) => outcome,
                Err(e) => Err(Failure::new(
                    "Lambda.Unknown",
                    format!("the stage stopped unexpectedly: {e}"),
                )),
            };
            let result = host
                .step(&name, move |e, now| match outcome {
                    Ok(output) => e.task_succeeded(now, id, output),
                    Err(failure) => e.task_failed(now, id, failure),
                })
                .await;
            match result {
                Ok(_) => {}
                // The task timed out or the run ended meanwhile: its result is moot.
                Err(StepError::Callback(e)) => {
                    debug!(execution = %name, task = id, error = %e, "late task result dropped")
                }
                Err(e) => {
                    warn!(execution = %name, task = id, error = %e, "task result not recorded")
                }
            }
        });
    }

    async fn callback(
        self: &Arc<Self>,
        token: &str,
        change: impl FnOnce(&mut Execution, DateTime<Utc>) -> Result<(), CallbackError>,
    ) -> Result<(), ExecutionError> {
        let name = self
            .log
            .execution_for_token(token)
            .await
            .map_err(|e| ExecutionError::Unavailable(e.to_string()))?
            .ok_or_else(|| {
                ExecutionError::TaskClosed("no open task waits for this token".into())
            })?;
        match self.step(&name, change).await {
            Ok(_) => Ok(()),
            Err(StepError::Callback(e)) => Err(ExecutionError::TaskClosed(e.to_string())),
            Err(StepError::NoExecution(n)) => {
                Err(ExecutionError::TaskClosed(format!("no execution {n}")))
            }
            Err(StepError::Store(e)) => Err(ExecutionError::Unavailable(e.to_string())),
        }
    }
}

impl Live {
    /// `saved_events`: how many of its history events the log holds (none
    /// for a row of the format that kept the history inside the state).
    fn new(execution: Execution, saved_events: usize) -> Self {
        Live {
            execution,
            wake_at: None,
            saved_events,
        }
    }
}

#[derive(Debug)]
enum StepError {
    Callback(CallbackError),
    NoExecution(String),
    Store(StoreError),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Callback(e) => write!(f, "{e}"),
            StepError::NoExecution(n) => write!(f, "no execution named {n}"),
            StepError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StepError {}

impl From<CallbackError> for StepError {
    fn from(e: CallbackError) -> Self {
        StepError::Callback(e)
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(e)
    }
}

/// The status names Step Functions reports.
pub fn status_name(execution: &Execution) -> &'static str {
    match execution.status() {
        Status::Running => "RUNNING",
        Status::Succeeded(_) => "SUCCEEDED",
        Status::Failed(_) => {
            let aborted = execution
                .history()
                .last()
                .is_some_and(|e| e.kind == "ExecutionAborted");
            if aborted {
                "ABORTED"
            } else {
                "FAILED"
            }
        }
    }
}

/// The core `Executions` port over the host: what the starter and the
/// approval callback use, as they use Step Functions in AWS.
pub struct HostExecutions(pub Arc<Host>);

#[async_trait]
impl Executions for HostExecutions {
    async fn start(&self, name: &str, input: &Value) -> Result<Started, ExecutionError> {
        self.0
            .start(name, input.clone())
            .await
            .map_err(|e| ExecutionError::Unavailable(e.to_string()))
    }

    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &Value,
    ) -> Result<(), ExecutionError> {
        let output = output.clone();
        let token_owned = token.expose().to_string();
        self.0
            .callback(token.expose(), move |e, now| {
                e.send_task_success(now, &token_owned, output)
            })
            .await
    }
}
