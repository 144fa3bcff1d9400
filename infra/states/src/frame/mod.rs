//! A running state machine: the top-level execution, a Parallel branch or a Map iteration.
//! Each frame advances state by state until it must wait for the host (a task result, a timer)
//! or finishes; nested branches are frames inside their Parallel/Map state, so the whole tree
//! serialises with the execution.
//!
//! This file holds the frame and its state-by-state loop; each state family's part is a file
//! of its own: `task`, `wait`, `branches` (Parallel, Map), `instant` (Pass, Choice, Succeed,
//! Fail) with `choose` (Choice rules), `recover` (Retry, Catch), and `env` (what fields are
//! evaluated against, and Assign).
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::ExecutionInfo;
use crate::definition::{QueryLanguage, State, StateMachine, StateType};
use crate::error::{names, Failure, Fault};
use crate::history::{json_text, state_event, History};
use crate::payload;

mod branches;
mod choose;
mod env;
mod instant;
mod recover;
mod task;
mod wait;

use branches::{poll_branches, Branches, Child};
use env::{compiled_assign, jsonata_assign, Assignments, Env};
pub use task::TaskRequest;
pub(crate) use task::TaskWait;

pub(crate) struct Shared<'a> {
    pub now: DateTime<Utc>,
    pub info: &'a ExecutionInfo,
    pub input: &'a Value,
    pub history: &'a mut History,
    pub next_task: &'a mut u64,
    pub issued: &'a mut Vec<TaskRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Frame {
    machine: Arc<StateMachine>,
    vars: Map<String, Value>,
    cursor: Cursor,
    /// The final output as already written to the history by the last state's exit.
    #[serde(skip)]
    output_json: Option<String>,
}

/// A frame as persisted without its definition (see [`crate::Execution::to_json_detached`]).
#[derive(Serialize)]
pub(crate) struct DetachedFrameRef<'a> {
    vars: &'a Map<String, Value>,
    cursor: &'a Cursor,
}

#[derive(Deserialize)]
pub(crate) struct DetachedFrame {
    vars: Map<String, Value>,
    cursor: Cursor,
}

impl Frame {
    pub fn detached(&self) -> DetachedFrameRef<'_> {
        DetachedFrameRef {
            vars: &self.vars,
            cursor: &self.cursor,
        }
    }

    pub fn attach(frame: DetachedFrame, machine: Arc<StateMachine>) -> Frame {
        Frame {
            machine,
            vars: frame.vars,
            cursor: frame.cursor,
            output_json: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Cursor {
    Enter {
        state: String,
        input: Value,
        /// The input as already written to the history by the previous state's exit.
        #[serde(skip)]
        input_json: Option<String>,
    },
    Active(Box<Active>),
    Done(Result<Value, Failure>),
    Taken,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Active {
    state: String,
    raw_input: Value,
    effective: Value,
    entered_at: DateTime<Utc>,
    entered_event: u64,
    retry_attempts: Vec<u32>,
    retry_count: u32,
    step: Step,
    /// InputPath left the input unchanged, so `effective` is not a separate copy.
    effective_is_raw: bool,
}

impl Active {
    fn effective(&self) -> &Value {
        if self.effective_is_raw {
            &self.raw_input
        } else {
            &self.effective
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Step {
    Task(Box<TaskWait>),
    Wait { until: DateTime<Utc> },
    Backoff { until: DateTime<Utc> },
    Branches(Box<Branches>),
    Settled(Result<Value, Failure>),
}

impl Frame {
    pub fn new(machine: Arc<StateMachine>, input: Value, vars: Map<String, Value>) -> Frame {
        let start = machine.start_at.clone();
        Frame {
            machine,
            vars,
            cursor: Cursor::Enter {
                state: start,
                input,
                input_json: None,
            },
            output_json: None,
        }
    }

    /// Tells the frame its input's JSON text (already written to the history), so the first
    /// state's entry need not serialise it again.
    pub fn with_input_json(mut self, text: String) -> Frame {
        if let Cursor::Enter { input_json, .. } = &mut self.cursor {
            *input_json = Some(text);
        }
        self
    }

    /// The finished frame's output as JSON text, when the last state's exit wrote it.
    pub fn take_output_json(&mut self) -> Option<String> {
        self.output_json.take()
    }

    pub fn outcome(&self) -> Option<&Result<Value, Failure>> {
        match &self.cursor {
            Cursor::Done(r) => Some(r),
            _ => None,
        }
    }

    /// Runs states until the frame finishes or waits on the host.
    pub fn run(&mut self, sh: &mut Shared) {
        loop {
            match std::mem::replace(&mut self.cursor, Cursor::Taken) {
                Cursor::Enter {
                    state,
                    input,
                    input_json,
                } => self.enter(state, input, input_json, sh),
                Cursor::Active(mut active) => {
                    if !self.poll(&mut active, sh) {
                        if matches!(self.cursor, Cursor::Taken) {
                            self.cursor = Cursor::Active(active);
                        }
                        return;
                    }
                    if matches!(self.cursor, Cursor::Taken) {
                        self.cursor = Cursor::Active(active);
                    }
                }
                done @ Cursor::Done(_) => {
                    self.cursor = done;
                    return;
                }
                Cursor::Taken => unreachable!("cursor is always put back"),
            }
        }
    }

    fn env<'a>(&'a self, sh: &'a Shared, name: &'a str, entered_at: DateTime<Utc>) -> Env<'a> {
        Env {
            info: sh.info,
            exec_input: sh.input,
            vars: &self.vars,
            name,
            entered_at,
            retry_count: None,
            token: None,
            map_item: None,
        }
    }

    fn enter(&mut self, name: String, input: Value, input_json: Option<String>, sh: &mut Shared) {
        let machine = self.machine.clone();
        let Some(st) = machine.state(&name) else {
            self.cursor = Cursor::Done(Err(Failure::new(
                names::RUNTIME,
                format!("The state '{name}' does not exist"),
            )));
            return;
        };
        let kind = state_event(st.kind, "Entered");
        // An instant state that passes its input through unchanged exits with the same text.
        let unchanged = passes_input_through(st);
        let (entered_event, input_text) = match input_json {
            Some(text) => {
                let id = sh
                    .history
                    .record_text(sh.now, kind, Some(&name), "input", &text);
                (id, unchanged.then_some(text))
            }
            None if unchanged => {
                let text = json_text(&input);
                let id = sh
                    .history
                    .record_text(sh.now, kind, Some(&name), "input", &text);
                (id, Some(text))
            }
            None => (
                sh.history
                    .record_io(sh.now, kind, Some(&name), "input", &input),
                None,
            ),
        };
        let entered_at = sh.now;
        match st.kind {
            StateType::Pass | StateType::Choice | StateType::Succeed | StateType::Fail => {
                if let Err(f) = self.run_instant(&name, st, input, input_text, entered_at, sh) {
                    self.cursor = Cursor::Done(Err(f.in_state(&name, entered_event)));
                }
            }
            _ => {
                let effective_is_raw =
                    st.language() == QueryLanguage::JSONata || payload::is_identity(&st.input_path);
                let effective = if effective_is_raw {
                    Ok(Value::Null)
                } else {
                    let env = self.env(sh, &name, entered_at);
                    env.with_scope(&input, |s| {
                        payload::select_path_pre(
                            &st.input_path,
                            st.compiled().input_path.as_ref(),
                            s,
                        )
                    })
                };
                let mut active = Box::new(Active {
                    state: name,
                    raw_input: input,
                    effective: Value::Null,
                    entered_at,
                    entered_event,
                    retry_attempts: vec![0; st.retry.len()],
                    retry_count: 0,
                    step: Step::Settled(Ok(Value::Null)),
                    effective_is_raw,
                });
                match effective {
                    Ok(e) => {
                        active.effective = e;
                        self.start_body(&mut active, st, sh);
                    }
                    Err(f) => {
                        active.step = Step::Settled(Err(f.in_state(&active.state, entered_event)))
                    }
                }
                self.cursor = Cursor::Active(active);
            }
        }
    }

    fn apply(&mut self, assigned: Assignments) {
        if let Some(vars) = assigned {
            self.vars.extend(vars);
        }
    }

    fn leave(
        &mut self,
        name: &str,
        st: &State,
        output: Value,
        output_json: Option<String>,
        next: Option<String>,
        sh: &mut Shared,
    ) {
        let output_json = output_json.unwrap_or_else(|| json_text(&output));
        sh.history.record_text(
            sh.now,
            state_event(st.kind, "Exited"),
            Some(name),
            "output",
            &output_json,
        );
        let next = next.or_else(|| if st.end { None } else { st.next.clone() });
        self.cursor = match next {
            Some(n) if st.kind != StateType::Succeed => Cursor::Enter {
                state: n,
                input: output,
                input_json: Some(output_json),
            },
            _ => {
                self.output_json = Some(output_json);
                Cursor::Done(Ok(output))
            }
        };
    }

    /// Starts (or restarts, after a retry back-off) the waiting part of Task, Wait, Parallel and Map.
    fn start_body(&mut self, active: &mut Active, st: &State, sh: &mut Shared) {
        let started = match st.kind {
            StateType::Task => self.start_task(active, st, sh),
            StateType::Wait => self.start_wait(active, st, sh),
            StateType::Parallel => self.start_parallel(active, st, sh),
            StateType::Map => self.start_map(active, st, sh),
            _ => unreachable!("instant states do not start a body"),
        };
        active.step = match started {
            Ok(step) => step,
            Err(f) => Step::Settled(Err(f.in_state(&active.state, active.entered_event))),
        };
    }

    /// Advances an active state; false when it is still waiting on the host.
    fn poll(&mut self, active: &mut Active, sh: &mut Shared) -> bool {
        let machine = self.machine.clone();
        let st = machine.state(&active.state).expect("active state exists");
        match &mut active.step {
            Step::Task(task) => {
                let outcome = match task.outcome.take() {
                    Some(o) => o,
                    None if task.deadline.is_some_and(|d| sh.now >= d) => {
                        sh.history
                            .record(sh.now, "TaskTimedOut", json!({"error": names::TIMEOUT}));
                        Err(Failure {
                            error: Some(names::TIMEOUT.into()),
                            cause: None,
                        })
                    }
                    None if task.heartbeat_deadline.is_some_and(|d| sh.now >= d) => {
                        sh.history.record(
                            sh.now,
                            "TaskTimedOut",
                            json!({"error": names::HEARTBEAT_TIMEOUT}),
                        );
                        Err(Failure {
                            error: Some(names::HEARTBEAT_TIMEOUT.into()),
                            cause: None,
                        })
                    }
                    None => return false,
                };
                active.step = Step::Settled(outcome);
                true
            }
            Step::Wait { until } => {
                if sh.now < *until {
                    return false;
                }
                active.step = Step::Settled(Ok(active.effective().clone()));
                true
            }
            Step::Backoff { until } => {
                if sh.now < *until {
                    return false;
                }
                self.start_body(active, st, sh);
                true
            }
            Step::Branches(branches) => match poll_branches(branches, st.kind, sh) {
                Some(outcome) => {
                    let kind = if st.kind == StateType::Map {
                        "MapState"
                    } else {
                        "ParallelState"
                    };
                    let suffix = if outcome.is_ok() {
                        "Succeeded"
                    } else {
                        "Failed"
                    };
                    sh.history
                        .record(sh.now, format!("{kind}{suffix}"), json!({}));
                    active.step = Step::Settled(outcome);
                    true
                }
                None => false,
            },
            Step::Settled(_) => {
                let Step::Settled(outcome) =
                    std::mem::replace(&mut active.step, Step::Settled(Ok(Value::Null)))
                else {
                    unreachable!()
                };
                self.settle(active, st, outcome, sh);
                true
            }
        }
    }

    fn settle(
        &mut self,
        active: &mut Active,
        st: &State,
        outcome: Result<Value, Failure>,
        sh: &mut Shared,
    ) {
        let failure = match outcome {
            Ok(result) => match self.complete(active, st, result, sh) {
                Ok(()) => return,
                Err(fault) => fault.in_state(&active.state, active.entered_event),
            },
            Err(f) => f,
        };
        self.recover(active, st, failure, sh);
    }

    /// The result half of Task, Parallel, Map and Wait: selectors, ResultPath, Output, Assign.
    fn complete(
        &mut self,
        active: &mut Active,
        st: &State,
        result: Value,
        sh: &mut Shared,
    ) -> Result<(), Fault> {
        let mut env = self.env(sh, &active.state, active.entered_at);
        if st.kind == StateType::Task {
            env.retry_count = Some(active.retry_count);
        }
        let (output, assigned) = if st.language() == QueryLanguage::JSONPath {
            let compiled = st.compiled();
            if st.kind == StateType::Wait {
                let assigned = compiled_assign(compiled.assign.as_ref(), &env, active.effective())?;
                let out = env.with_scope(active.effective(), |s| {
                    payload::select_path_pre(&st.output_path, compiled.output_path.as_ref(), s)
                })?;
                (out, assigned)
            } else {
                let selected = match &compiled.result_selector {
                    Some(rs) => env.with_scope(&result, |s| rs.render(s))?,
                    None => result,
                };
                let assigned = compiled_assign(compiled.assign.as_ref(), &env, &selected)?;
                let result_path = compiled.result_path.as_ref();
                let out = if payload::is_identity(&st.output_path) {
                    let raw = std::mem::take(&mut active.raw_input);
                    payload::merge_result_pre(&st.result_path, result_path, raw, selected)?
                } else {
                    payload::apply_result_path_pre(
                        &st.result_path,
                        result_path,
                        &active.raw_input,
                        selected,
                    )?
                };
                let out = env.output_path(&st.output_path, compiled.output_path.as_ref(), out)?;
                (out, assigned)
            }
        } else {
            let has_result = st.kind != StateType::Wait;
            let states = env.states(&active.raw_input, has_result.then_some(("result", &result)));
            let assigned = jsonata_assign(st.assign.as_ref(), &env, &states)?;
            let out = match &st.output {
                Some(o) => env.render(&o.clone().unwrap_or(Value::Null), "Output", &states)?,
                None if has_result => result,
                None => active.raw_input.clone(),
            };
            (out, assigned)
        };
        self.apply(assigned);
        self.leave(&active.state, st, output, None, None, sh);
        Ok(())
    }

    /// Earliest time at which something in this frame becomes due.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        let Cursor::Active(active) = &self.cursor else {
            return None;
        };
        match &active.step {
            Step::Wait { until } | Step::Backoff { until } => Some(*until),
            Step::Task(t) if t.outcome.is_none() => match (t.deadline, t.heartbeat_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Step::Branches(b) => b
                .children
                .iter()
                .filter_map(|c| match c {
                    Child::Running(f) => f.next_wake(),
                    _ => None,
                })
                .min(),
            _ => None,
        }
    }

    /// The open task this frame (or one of its branches) waits on that satisfies `pred`.
    pub fn find_task(&mut self, pred: &dyn Fn(&TaskWait) -> bool) -> Option<&mut TaskWait> {
        let Cursor::Active(active) = &mut self.cursor else {
            return None;
        };
        match &mut active.step {
            Step::Task(t) if t.outcome.is_none() && pred(t) => Some(&mut **t),
            Step::Branches(b) => {
                for c in b.children.iter_mut() {
                    if let Child::Running(f) = c {
                        if let Some(t) = f.find_task(pred) {
                            return Some(t);
                        }
                    }
                }
                None
            }
            _ => None,
        }
    }

    pub fn open_tasks<'a>(&'a self, out: &mut Vec<&'a TaskWait>) {
        let Cursor::Active(active) = &self.cursor else {
            return;
        };
        match &active.step {
            Step::Task(t) if t.outcome.is_none() => out.push(t),
            Step::Branches(b) => {
                for c in &b.children {
                    if let Child::Running(f) = c {
                        f.open_tasks(out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// JSONPath Pass, Choice and Succeed states whose output is their input as it is: no paths,
/// no Parameters or Result (Assign does not touch the output).
fn passes_input_through(st: &State) -> bool {
    if st.language() != QueryLanguage::JSONPath
        || !payload::is_identity(&st.input_path)
        || !payload::is_identity(&st.output_path)
    {
        return false;
    }
    match st.kind {
        StateType::Choice | StateType::Succeed => true,
        StateType::Pass => {
            st.parameters.is_none() && st.result.is_none() && payload::is_identity(&st.result_path)
        }
        _ => false,
    }
}

fn positive_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        _ => None,
    }
    .filter(|n| *n >= 0)
}
