//! Task states: the request handed to the host and the wait on its answer
//! (timeouts, heartbeats, task tokens).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{positive_integer, Active, Frame, Shared, Step};
use crate::definition::{QueryLanguage, State};
use crate::error::{Failure, Fault};
use crate::path::Path;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TaskWait {
    pub request: TaskRequest,
    pub(super) deadline: Option<DateTime<Utc>>,
    pub(super) heartbeat_seconds: Option<i64>,
    pub(super) heartbeat_deadline: Option<DateTime<Utc>>,
    pub submitted: bool,
    pub(super) outcome: Option<Result<Value, Failure>>,
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

impl Frame {
    pub(super) fn start_task(
        &mut self,
        active: &Active,
        st: &State,
        sh: &mut Shared,
    ) -> Result<Step, Fault> {
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
}
