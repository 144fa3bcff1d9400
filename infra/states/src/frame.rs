//! A running state machine: the top-level execution, a Parallel branch or a Map iteration.
//! Each frame advances state by state until it must wait for the host (a task result, a timer)
//! or finishes; nested branches are frames inside their Parallel/Map state, so the whole tree
//! serialises with the execution.
use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::context::{self, ExecutionInfo, MapItem, StateContext};
use crate::definition::{QueryLanguage, State, StateMachine, StateType};
use crate::error::{names, Failure, Fault};
use crate::history::{json_text, state_event, History};
use crate::jsonata::{self, Bindings};
use crate::path::{Path, Scope};
use crate::payload;
use crate::retry;
use crate::timestamp;
use crate::value::type_name;

/// A unit of work the engine hands to the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRequest {
    pub id: u64,
    pub state: String,
    pub resource: String,
    pub payload: Value,
    /// Set for `.waitForTaskToken` resources: the task completes only through a token callback.
    pub token: Option<String>,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskWait {
    pub request: TaskRequest,
    deadline: Option<DateTime<Utc>>,
    heartbeat_seconds: Option<i64>,
    heartbeat_deadline: Option<DateTime<Utc>>,
    pub submitted: bool,
    outcome: Option<Result<Value, Failure>>,
}

impl TaskWait {
    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }

    pub fn settle(&mut self, outcome: Result<Value, Failure>) {
        self.outcome = Some(outcome);
    }

    pub fn heartbeat(&mut self, now: DateTime<Utc>) {
        if let Some(s) = self.heartbeat_seconds {
            self.heartbeat_deadline = Some(now + Duration::seconds(s));
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Branches {
    children: Vec<Child>,
    /// Map only: the iteration machine and the variables each iteration starts with.
    processor: Option<Arc<StateMachine>>,
    vars: Map<String, Value>,
    max_concurrency: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
    failures: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Child {
    NotStarted(Value),
    Running(Frame),
    Finished(Value),
}

/// The values a state's fields are evaluated against.
struct Env<'a> {
    info: &'a ExecutionInfo,
    exec_input: &'a Value,
    vars: &'a Map<String, Value>,
    name: &'a str,
    entered_at: DateTime<Utc>,
    retry_count: Option<u32>,
    token: Option<&'a str>,
    map_item: Option<&'a MapItem>,
}

impl Env<'_> {
    fn state_context(&self) -> StateContext<'_> {
        StateContext {
            name: self.name,
            entered_time: self.entered_at,
            retry_count: self.retry_count,
            task_token: self.token,
            map_item: self.map_item,
        }
    }

    fn context(&self) -> Value {
        context::build(self.info, self.exec_input, &self.state_context())
    }

    fn context_part(&self, name: &str) -> Option<Value> {
        context::part(self.info, self.exec_input, &self.state_context(), name)
    }

    /// OutputPath (and similar) that hands the value back untouched when there is nothing to select.
    fn output_path(
        &self,
        path: &Option<Option<String>>,
        pre: Option<&Path>,
        value: Value,
    ) -> Result<Value, Fault> {
        if payload::is_identity(path) {
            return Ok(value);
        }
        self.with_scope(&value, |s| payload::select_path_pre(path, pre, s))
    }

    fn input_path<'v>(
        &self,
        path: &Option<Option<String>>,
        pre: Option<&Path>,
        input: &'v Value,
    ) -> Result<Cow<'v, Value>, Fault> {
        if payload::is_identity(path) {
            return Ok(Cow::Borrowed(input));
        }
        self.with_scope(input, |s| payload::select_path_pre(path, pre, s))
            .map(Cow::Owned)
    }

    fn with_scope<T>(&self, input: &Value, f: impl FnOnce(&Scope) -> T) -> T {
        let make = || self.context();
        let part = |name: &str| self.context_part(name);
        f(&Scope::new(input, self.vars, &make).with_parts(&part))
    }

    fn states(&self, input: &Value, extra: Option<(&str, &Value)>) -> Value {
        let mut states = json!({"input": input, "context": self.context()});
        if let Some((k, v)) = extra {
            states[k] = v.clone();
        }
        states
    }

    fn render(&self, value: &Value, field: &str, states: &Value) -> Result<Value, Fault> {
        jsonata::render(
            value,
            field,
            &Bindings {
                states,
                vars: self.vars,
            },
        )
    }

    /// Evaluates the JSONata Condition of a Choice rule.
    fn condition(&self, states: &Value) -> impl Fn(&Value) -> Result<Value, Fault> + '_ {
        let states = states.clone();
        move |c: &Value| self.render(c, "Condition", &states)
    }
}

/// Variables assigned by a state, applied once its output is computed.
type Assignments = Option<Map<String, Value>>;

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

    /// Pass, Choice, Succeed and Fail complete as soon as they are entered.
    fn run_instant(
        &mut self,
        name: &str,
        st: &State,
        input: Value,
        input_text: Option<String>,
        entered_at: DateTime<Utc>,
        sh: &mut Shared,
    ) -> Result<(), Fault> {
        let env = self.env(sh, name, entered_at);
        let jsonpath = st.language() == QueryLanguage::JSONPath;
        let compiled = st.compiled();
        let (output, next, assigned) = match st.kind {
            StateType::Fail => {
                let failure = self.fail_state(st, &input, &env)?;
                self.cursor = Cursor::Done(Err(failure));
                return Ok(());
            }
            StateType::Choice if jsonpath => {
                let effective =
                    env.input_path(&st.input_path, compiled.input_path.as_ref(), &input)?;
                let (next, assign) = choose(st, &env, &effective, &Value::Null)?;
                let assigned = jsonpath_assign(assign, &env, &effective)?;
                let effective = match effective {
                    Cow::Borrowed(_) => input,
                    Cow::Owned(v) => v,
                };
                let output =
                    env.output_path(&st.output_path, compiled.output_path.as_ref(), effective)?;
                (output, Some(next), assigned)
            }
            StateType::Choice => {
                let states = env.states(&input, None);
                let (next, assign, rule_output) = choose_jsonata(st, &env, &states)?;
                let assigned = jsonata_assign(assign, &env, &states)?;
                let output = match rule_output
                    .or(st.output.as_ref().map(|o| o.clone().unwrap_or(Value::Null)))
                {
                    Some(o) => env.render(&o, "Output", &states)?,
                    None => input,
                };
                (output, Some(next), assigned)
            }
            StateType::Pass if jsonpath => {
                let effective =
                    env.input_path(&st.input_path, compiled.input_path.as_ref(), &input)?;
                let rendered = match &compiled.parameters {
                    Some(p) => Some(env.with_scope(&effective, |s| p.render(s))?),
                    None => None,
                };
                let result = match (&st.result, rendered) {
                    (Some(r), _) => r.clone().unwrap_or(Value::Null),
                    (None, Some(v)) => v,
                    (None, None) => effective.into_owned(),
                };
                let assigned = compiled_assign(compiled.assign.as_ref(), &env, &result)?;
                let output = payload::merge_result_pre(
                    &st.result_path,
                    compiled.result_path.as_ref(),
                    input,
                    result,
                )?;
                let output =
                    env.output_path(&st.output_path, compiled.output_path.as_ref(), output)?;
                (output, None, assigned)
            }
            _ if jsonpath => {
                let effective =
                    env.input_path(&st.input_path, compiled.input_path.as_ref(), &input)?;
                let effective = match effective {
                    Cow::Borrowed(_) => input,
                    Cow::Owned(v) => v,
                };
                let output =
                    env.output_path(&st.output_path, compiled.output_path.as_ref(), effective)?;
                (output, None, None)
            }
            _ => {
                let states = env.states(&input, None);
                let assigned = jsonata_assign(st.assign.as_ref(), &env, &states)?;
                let output = match &st.output {
                    Some(o) => env.render(&o.clone().unwrap_or(Value::Null), "Output", &states)?,
                    None => input,
                };
                (output, None, assigned)
            }
        };
        self.apply(assigned);
        self.leave(name, st, output, input_text, next, sh);
        Ok(())
    }

    fn fail_state(&self, st: &State, input: &Value, env: &Env) -> Result<Failure, Fault> {
        if st.language() == QueryLanguage::JSONata {
            let states = env.states(input, None);
            let text = |field: &str, v: &Option<String>| -> Result<Option<String>, Fault> {
                match v {
                    Some(s) => match env.render(&Value::String(s.clone()), field, &states)? {
                        Value::String(s) => Ok(Some(s)),
                        other => Ok(Some(other.to_string())),
                    },
                    None => Ok(None),
                }
            };
            return Ok(Failure {
                error: text("Error", &st.error)?,
                cause: text("Cause", &st.cause)?,
            });
        }
        let dynamic = |field: &str,
                       path: &Option<String>,
                       fixed: &Option<String>|
         -> Result<Option<String>, Fault> {
            match path {
                Some(p) => {
                    let v = env.with_scope(input, |s| payload::expression(field, p, s))?;
                    match v {
                        Value::String(s) => Ok(Some(s)),
                        other => Err(Fault::runtime(format!(
                            "The {field} field must reference a string, but '{p}' is {other}"
                        ))),
                    }
                }
                None => Ok(fixed.clone()),
            }
        };
        Ok(Failure {
            error: dynamic("ErrorPath", &st.error_path, &st.error)?,
            cause: dynamic("CausePath", &st.cause_path, &st.cause)?,
        })
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

    fn start_task(&mut self, active: &Active, st: &State, sh: &mut Shared) -> Result<Step, Fault> {
        let resource = st.resource.clone().unwrap_or_default();
        let token = resource.ends_with(".waitForTaskToken").then(|| {
            // A random (v4) UUID from the thread's CSPRNG rather than one OS call per token.
            uuid::Builder::from_random_bytes(rand::random::<[u8; 16]>())
                .into_uuid()
                .to_string()
        });
        let mut env = self.env(sh, &active.state, active.entered_at);
        env.retry_count = Some(active.retry_count);
        env.token = token.as_deref();
        let (payload, timeout, heartbeat) = if st.language() == QueryLanguage::JSONPath {
            let payload = match &st.compiled().parameters {
                Some(p) => env.with_scope(active.effective(), |s| p.render(s))?,
                None => active.effective().clone(),
            };
            let seconds = |fixed: &Option<Value>,
                           path: &Option<String>,
                           field: &str|
             -> Result<Option<i64>, Fault> {
                match path {
                    Some(p) => {
                        let v =
                            env.with_scope(active.effective(), |s| Path::parse(p)?.select(s))?;
                        positive_integer(&v).map(Some).ok_or_else(|| {
                            Fault::runtime(format!("The {field} field refers to value {v} which is not a valid integer: {p}"))
                        })
                    }
                    None => Ok(fixed.as_ref().and_then(Value::as_i64)),
                }
            };
            (
                payload,
                seconds(
                    &st.timeout_seconds,
                    &st.timeout_seconds_path,
                    "TimeoutSecondsPath",
                )?,
                seconds(
                    &st.heartbeat_seconds,
                    &st.heartbeat_seconds_path,
                    "HeartbeatSecondsPath",
                )?,
            )
        } else {
            let states = env.states(&active.raw_input, None);
            let payload = match &st.arguments {
                Some(a) => env.render(a, "Arguments", &states)?,
                None => active.raw_input.clone(),
            };
            let seconds = |v: &Option<Value>, field: &str| -> Result<Option<i64>, Fault> {
                match v {
                    Some(v) => {
                        let v = env.render(v, field, &states)?;
                        positive_integer(&v).map(Some).ok_or_else(|| {
                            Fault::query(format!(
                                "The {field} field must be a positive integer, got {v}"
                            ))
                        })
                    }
                    None => Ok(None),
                }
            };
            (
                payload,
                seconds(&st.timeout_seconds, "TimeoutSeconds")?,
                seconds(&st.heartbeat_seconds, "HeartbeatSeconds")?,
            )
        };
        *sh.next_task += 1;
        let request = TaskRequest {
            id: *sh.next_task,
            state: active.state.clone(),
            resource: resource.clone(),
            payload,
            token,
        };
        sh.history.record_io(
            sh.now,
            "TaskScheduled",
            Some(&resource),
            "parameters",
            &request.payload,
        );
        sh.issued.push(request.clone());
        Ok(Step::Task(Box::new(TaskWait {
            request,
            deadline: timeout.map(|s| sh.now + Duration::seconds(s)),
            heartbeat_seconds: heartbeat,
            heartbeat_deadline: heartbeat.map(|s| sh.now + Duration::seconds(s)),
            submitted: false,
            outcome: None,
        })))
    }

    fn start_wait(&mut self, active: &Active, st: &State, sh: &mut Shared) -> Result<Step, Fault> {
        let env = self.env(sh, &active.state, active.entered_at);
        let until = if st.language() == QueryLanguage::JSONPath {
            let input = active.effective();
            if let Some(s) = &st.seconds {
                let secs = s
                    .as_f64()
                    .ok_or_else(|| Fault::runtime("Seconds must be a number"))?;
                sh.now + Duration::milliseconds((secs * 1000.0) as i64)
            } else if let Some(p) = &st.seconds_path {
                let v = env.with_scope(input, |s| Path::parse(p)?.select(s))?;
                let secs = positive_integer(&v).ok_or_else(|| {
                    Fault::runtime(format!(
                        "The SecondsPath parameter does not reference a positive integer value: {p} == {v}"
                    ))
                })?;
                sh.now + Duration::seconds(secs)
            } else if let Some(t) = &st.timestamp {
                let text = t.as_str().unwrap_or_default();
                timestamp::parse(text)
                    .ok_or_else(|| Fault::runtime(format!("Invalid Timestamp: {text}")))?
            } else if let Some(p) = &st.timestamp_path {
                let v = env.with_scope(input, |s| Path::parse(p)?.select(s))?;
                v.as_str().and_then(timestamp::parse).ok_or_else(|| {
                    Fault::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                        v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                    ))
                })?
            } else {
                sh.now
            }
        } else {
            let states = env.states(&active.raw_input, None);
            if let Some(s) = &st.seconds {
                let v = env.render(s, "Seconds", &states)?;
                let secs = positive_integer(&v).ok_or_else(|| {
                    Fault::query(format!(
                        "The Seconds field must be a positive integer, got {v}"
                    ))
                })?;
                sh.now + Duration::seconds(secs)
            } else if let Some(t) = &st.timestamp {
                let v = env.render(t, "Timestamp", &states)?;
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                timestamp::parse(&text).ok_or_else(|| {
                    Fault::query(format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                    ))
                })?
            } else {
                sh.now
            }
        };
        if until <= sh.now {
            return Ok(Step::Settled(Ok(active.effective().clone())));
        }
        Ok(Step::Wait { until })
    }

    fn start_parallel(
        &mut self,
        active: &Active,
        st: &State,
        sh: &mut Shared,
    ) -> Result<Step, Fault> {
        let env = self.env(sh, &active.state, active.entered_at);
        let input = if st.language() == QueryLanguage::JSONPath {
            match &st.compiled().parameters {
                Some(p) => env.with_scope(active.effective(), |s| p.render(s))?,
                None => active.effective().clone(),
            }
        } else {
            let states = env.states(&active.raw_input, None);
            match &st.arguments {
                Some(a) => env.render(a, "Arguments", &states)?,
                None => active.raw_input.clone(),
            }
        };
        sh.history.record(sh.now, "ParallelStateStarted", json!({}));
        let children = st
            .branches
            .iter()
            .map(|b| Child::Running(Frame::new(b.clone(), input.clone(), self.vars.clone())))
            .collect();
        Ok(Step::Branches(Box::new(Branches {
            children,
            processor: None,
            vars: Map::new(),
            max_concurrency: 0,
            tolerated_count: None,
            tolerated_percentage: None,
            failures: 0,
        })))
    }

    fn start_map(&mut self, active: &Active, st: &State, sh: &mut Shared) -> Result<Step, Fault> {
        let env = self.env(sh, &active.state, active.entered_at);
        let jsonpath = st.language() == QueryLanguage::JSONPath;
        let states = (!jsonpath).then(|| env.states(&active.raw_input, None));
        let items = if jsonpath {
            let items = env.with_scope(active.effective(), |s| {
                payload::select_path(&st.items_path, s)
            })?;
            match items {
                Value::Array(a) => a,
                other => {
                    return Err(Fault::runtime(format!(
                        "Map state input must be an array but was: {other}"
                    )))
                }
            }
        } else {
            let states = states.as_ref().expect("jsonata");
            match &st.items {
                Some(template) => match env.render(template, "Items", states)? {
                    Value::Array(a) => a,
                    other => {
                        let expr = template
                            .as_str()
                            .and_then(jsonata::template_expression)
                            .map(str::trim)
                            .unwrap_or_default();
                        return Err(Fault::query(format!(
                            "The JSONata expression '{expr}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                            type_name(&other)
                        )));
                    }
                },
                None => match &active.raw_input {
                    Value::Array(a) => a.clone(),
                    other => {
                        return Err(Fault::query(format!(
                            "Map state input must be an array but was: {other}"
                        )))
                    }
                },
            }
        };
        let max_concurrency = self.map_number(
            &env,
            active,
            states.as_ref(),
            &st.max_concurrency,
            &st.max_concurrency_path,
            "MaxConcurrency",
        )?;
        let tolerated_count = self.map_number(
            &env,
            active,
            states.as_ref(),
            &st.tolerated_failure_count,
            &st.tolerated_failure_count_path,
            "ToleratedFailureCount",
        )?;
        let tolerated_percentage = self.map_number(
            &env,
            active,
            states.as_ref(),
            &st.tolerated_failure_percentage,
            &st.tolerated_failure_percentage_path,
            "ToleratedFailurePercentage",
        )?;
        let selector = if jsonpath {
            st.item_selector.as_ref().or(st.parameters.as_ref())
        } else {
            st.item_selector.as_ref()
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (index, value) in items.into_iter().enumerate() {
            let Some(selector) = selector else {
                inputs.push(value);
                continue;
            };
            let item = MapItem { index, value };
            let mut item_env = self.env(sh, &active.state, active.entered_at);
            item_env.map_item = Some(&item);
            let rendered = if jsonpath {
                item_env.with_scope(active.effective(), |s| payload::render(selector, s))?
            } else {
                let states = item_env.states(&active.raw_input, None);
                item_env.render(selector, "ItemSelector", &states)?
            };
            inputs.push(rendered);
        }
        sh.history
            .record(sh.now, "MapStateStarted", json!({"length": inputs.len()}));
        Ok(Step::Branches(Box::new(Branches {
            children: inputs.into_iter().map(Child::NotStarted).collect(),
            processor: st.processor().cloned(),
            vars: self.vars.clone(),
            max_concurrency: max_concurrency.unwrap_or(0.0) as usize,
            tolerated_count: tolerated_count.map(|c| c as u64),
            tolerated_percentage,
            failures: 0,
        })))
    }

    fn map_number(
        &self,
        env: &Env,
        active: &Active,
        states: Option<&Value>,
        fixed: &Option<Value>,
        path: &Option<String>,
        field: &str,
    ) -> Result<Option<f64>, Fault> {
        if let Some(p) = path {
            let v = env.with_scope(active.effective(), |s| Path::parse(p)?.select(s))?;
            let n = match &v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<i64>().ok().map(|n| n as f64),
                _ => None,
            };
            return n.filter(|n| *n >= 0.0).map(Some).ok_or_else(|| {
                let shown = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                Fault::runtime(format!(
                    "The {field}Path field refers to value \"{shown}\" which is not a valid integer: {p}"
                ))
            });
        }
        match (fixed, states) {
            (Some(v), Some(states)) => {
                let v = env.render(v, field, states)?;
                v.as_f64().map(Some).ok_or_else(|| {
                    Fault::query(format!("The {field} field must be a number, got {v}"))
                })
            }
            (Some(v), None) => Ok(v.as_f64()),
            (None, _) => Ok(None),
        }
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

    /// Retry, then Catch, then fail the frame.
    fn recover(&mut self, active: &mut Active, st: &State, failure: Failure, sh: &mut Shared) {
        let error = failure.error_name().to_string();
        if let Some(i) = st
            .retry
            .iter()
            .position(|r| retry::matches(&r.error_equals, &error))
        {
            let retrier = &st.retry[i];
            if active.retry_attempts[i] < retry::max_attempts(retrier) {
                let delay = retry::delay_millis(retrier, active.retry_attempts[i]);
                active.retry_attempts[i] += 1;
                active.retry_count += 1;
                active.step = Step::Backoff {
                    until: sh.now + Duration::milliseconds(delay),
                };
                return;
            }
        }
        if let Some(catcher) = st
            .catch
            .iter()
            .find(|c| retry::matches(&c.error_equals, &error))
        {
            let error_output = failure.to_output();
            let env = self.env(sh, &active.state, active.entered_at);
            let caught = if st.language() == QueryLanguage::JSONPath {
                jsonpath_assign(catcher.assign.as_ref(), &env, &error_output).and_then(|assigned| {
                    payload::apply_result_path(
                        &catcher.result_path,
                        &active.raw_input,
                        error_output.clone(),
                    )
                    .map(|out| (out, assigned))
                })
            } else {
                let states = env.states(&active.raw_input, Some(("errorOutput", &error_output)));
                jsonata_assign(catcher.assign.as_ref(), &env, &states).and_then(|assigned| {
                    let out = match &catcher.output {
                        Some(o) => {
                            env.render(&o.clone().unwrap_or(Value::Null), "Output", &states)?
                        }
                        None => error_output.clone(),
                    };
                    Ok((out, assigned))
                })
            };
            match caught {
                Ok((output, assigned)) => {
                    self.apply(assigned);
                    self.leave(
                        &active.state,
                        st,
                        output,
                        None,
                        Some(catcher.next.clone()),
                        sh,
                    );
                }
                Err(fault) => {
                    self.cursor =
                        Cursor::Done(Err(fault.in_state(&active.state, active.entered_event)));
                }
            }
            return;
        }
        self.cursor = Cursor::Done(Err(failure));
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

/// Runs the children of a Parallel or Map state; `Some` once the state's outcome is known.
fn poll_branches(
    b: &mut Branches,
    kind: StateType,
    sh: &mut Shared,
) -> Option<Result<Value, Failure>> {
    let limit = if b.max_concurrency == 0 {
        usize::MAX
    } else {
        b.max_concurrency
    };
    let total = b.children.len();
    loop {
        let mut progressed = false;
        let mut running = b
            .children
            .iter()
            .filter(|c| matches!(c, Child::Running(_)))
            .count();
        for (index, child) in b.children.iter_mut().enumerate() {
            if let Child::NotStarted(_) = child {
                if running >= limit {
                    break;
                }
                let Child::NotStarted(input) =
                    std::mem::replace(child, Child::Finished(Value::Null))
                else {
                    unreachable!()
                };
                let processor = b.processor.clone().expect("map states have a processor");
                sh.history
                    .record(sh.now, "MapIterationStarted", json!({"index": index}));
                *child = Child::Running(Frame::new(processor, input, b.vars.clone()));
                running += 1;
            }
            let Child::Running(frame) = child else {
                continue;
            };
            frame.run(sh);
            match frame.outcome().cloned() {
                None => {}
                Some(Ok(v)) => {
                    if kind == StateType::Map {
                        sh.history
                            .record(sh.now, "MapIterationSucceeded", json!({"index": index}));
                    }
                    *child = Child::Finished(v);
                    running -= 1;
                    progressed = true;
                }
                Some(Err(f)) => {
                    if kind == StateType::Map {
                        sh.history
                            .record(sh.now, "MapIterationFailed", json!({"index": index}));
                    }
                    b.failures += 1;
                    let tolerated = b.tolerated_count.is_some_and(|c| b.failures <= c)
                        || b.tolerated_percentage
                            .is_some_and(|p| (b.failures as f64) * 100.0 / (total as f64) <= p);
                    if !tolerated {
                        if b.tolerated_count.is_some() || b.tolerated_percentage.is_some() {
                            return Some(Err(Failure::new(
                                names::EXCEED_TOLERATED_FAILURE,
                                "The specified tolerated failure threshold was exceeded",
                            )));
                        }
                        return Some(Err(f));
                    }
                    *child = Child::Finished(f.to_output());
                    running -= 1;
                    progressed = true;
                }
            }
        }
        if !progressed {
            break;
        }
    }
    if b.children.iter().all(|c| matches!(c, Child::Finished(_))) {
        let results = b
            .children
            .drain(..)
            .map(|c| match c {
                Child::Finished(v) => v,
                _ => unreachable!(),
            })
            .collect();
        return Some(Ok(Value::Array(results)));
    }
    None
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

fn jsonpath_assign(assign: Option<&Value>, env: &Env, input: &Value) -> Result<Assignments, Fault> {
    match assign {
        Some(template) => match env.with_scope(input, |s| payload::render(template, s))? {
            Value::Object(map) => Ok(Some(map)),
            _ => Err(Fault::runtime("Assign must be an object")),
        },
        None => Ok(None),
    }
}

fn compiled_assign(
    assign: Option<&payload::Template>,
    env: &Env,
    input: &Value,
) -> Result<Assignments, Fault> {
    match assign {
        Some(template) => match env.with_scope(input, |s| template.render(s))? {
            Value::Object(map) => Ok(Some(map)),
            _ => Err(Fault::runtime("Assign must be an object")),
        },
        None => Ok(None),
    }
}

fn jsonata_assign(assign: Option<&Value>, env: &Env, states: &Value) -> Result<Assignments, Fault> {
    match assign {
        Some(template) => match env.render(template, "Assign", states)? {
            Value::Object(map) => Ok(Some(map)),
            _ => Err(Fault::query("Assign must be an object")),
        },
        None => Ok(None),
    }
}

fn no_choice(st: &State) -> Fault {
    let _ = st;
    Fault {
        error: "States.NoChoiceMatched",
        message: "No Matches!".into(),
    }
}

fn choose<'s>(
    st: &'s State,
    env: &Env,
    effective: &Value,
    states: &Value,
) -> Result<(String, Option<&'s Value>), Fault> {
    let jsonata = env.condition(states);
    for rule in &st.choices {
        let matched = env.with_scope(effective, |s| rule.condition.evaluate(s, &jsonata))?;
        if matched {
            let next = rule.next.clone().unwrap_or_default();
            return Ok((next, rule.assign.as_ref()));
        }
    }
    match &st.default {
        Some(d) => Ok((d.clone(), st.assign.as_ref())),
        None => Err(no_choice(st)),
    }
}

type JsonataChoice<'s> = (String, Option<&'s Value>, Option<Value>);

fn choose_jsonata<'s>(
    st: &'s State,
    env: &Env,
    states: &Value,
) -> Result<JsonataChoice<'s>, Fault> {
    let jsonata = env.condition(states);
    let input = &states["input"];
    for rule in &st.choices {
        let matched = env.with_scope(input, |s| rule.condition.evaluate(s, &jsonata))?;
        if matched {
            let next = rule.next.clone().unwrap_or_default();
            return Ok((
                next,
                rule.assign.as_ref().or(st.assign.as_ref()),
                rule.output.clone(),
            ));
        }
    }
    match &st.default {
        Some(d) => Ok((d.clone(), st.assign.as_ref(), None)),
        None => Err(no_choice(st)),
    }
}
