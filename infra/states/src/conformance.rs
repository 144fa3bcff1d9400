//! Runs one case of the ASL conformance corpus and reports it in the line format compare.py reads.
use chrono::Utc;
use serde_json::{json, Value};

use crate::context::ExecutionInfo;
use crate::definition::StateMachine;
use crate::driver::{self, TaskHandler, TaskReply, VirtualClock};
use crate::error::Failure;
use crate::execution::{Execution, Status};
use crate::frame::TaskRequest;

/// The corpus calls no services; a Task that slips through fails the way a missing resource would.
struct NoServices;

impl TaskHandler for NoServices {
    fn invoke(&mut self, request: &TaskRequest) -> TaskReply {
        TaskReply::Failed(Failure::new(
            "States.TaskFailed",
            format!(
                "no service is available for resource '{}'",
                request.resource
            ),
        ))
    }
}

/// Runs the case's definition on its input and returns `{"id", "status", "output" | "error", "cause"}`.
pub fn run_case(case: &Value) -> Value {
    let id = case.get("id").cloned().unwrap_or(Value::Null);
    let machine = match StateMachine::from_value(case["definition"].clone()) {
        Ok(m) => m,
        Err(e) => {
            return json!({"id": id, "status": "INVALID_DEFINITION", "error": "States.Runtime", "cause": e.to_string()})
        }
    };
    let start = Utc::now();
    let info = ExecutionInfo::local("conformance", "case", start);
    let mut execution = Execution::start(machine, case["input"].clone(), info);
    let mut clock = VirtualClock::new(start);
    driver::run(&mut execution, &mut NoServices, &mut clock);
    match execution.status() {
        Status::Succeeded(output) => json!({"id": id, "status": "SUCCEEDED", "output": output}),
        Status::Failed(f) => {
            json!({"id": id, "status": "FAILED", "error": f.error, "cause": f.cause})
        }
        Status::Running => json!({"id": id, "status": "RUNNING"}),
    }
}
