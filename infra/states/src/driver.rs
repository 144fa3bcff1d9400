//! A synchronous driver for hosts that run tasks in-process (CLI, conformance runner, bench).
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::Failure;
use crate::execution::{Execution, Status};
use crate::frame::TaskRequest;

/// What a task handler answers for one request.
pub enum TaskReply {
    Succeeded(Value),
    Failed(Failure),
    /// The result comes later, through a token callback on the execution.
    Pending,
}

/// Runs Task states' resources.
pub trait TaskHandler {
    fn invoke(&mut self, request: &TaskRequest) -> TaskReply;
}

/// Time as the engine sees it.
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
    /// Called when nothing is runnable before `until`; a real clock sleeps, a virtual one jumps.
    fn wait_until(&mut self, until: DateTime<Utc>);
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn wait_until(&mut self, until: DateTime<Utc>) {
        if let Ok(d) = (until - Utc::now()).to_std() {
            std::thread::sleep(d);
        }
    }
}

/// A clock that only moves when the engine has nothing to do, so Waits and back-offs cost no time.
pub struct VirtualClock {
    now: DateTime<Utc>,
}

impl VirtualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        VirtualClock { now: start }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn wait_until(&mut self, until: DateTime<Utc>) {
        self.now = self.now.max(until);
    }
}

/// Drives `execution` until it finishes or only token callbacks could move it on.
pub fn run(execution: &mut Execution, tasks: &mut dyn TaskHandler, clock: &mut dyn Clock) {
    loop {
        let now = clock.now();
        let issued = execution.advance(now);
        let mut delivered = false;
        for request in &issued {
            let outcome = match tasks.invoke(request) {
                TaskReply::Succeeded(v) => execution.task_succeeded(now, request.id, v),
                TaskReply::Failed(f) => execution.task_failed(now, request.id, f),
                TaskReply::Pending => continue,
            };
            delivered |= outcome.is_ok();
        }
        if *execution.status() != Status::Running {
            return;
        }
        if delivered {
            continue;
        }
        match execution.next_wake() {
            Some(t) => clock.wait_until(t),
            None => return,
        }
    }
}
