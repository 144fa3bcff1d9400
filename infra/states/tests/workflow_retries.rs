//! The shipped workflow definition retries the stage failures that may
//! pass (an unavailable dependency, an unreachable reviewer, actions whose
//! attempts ran out) on a minute scale, and fails at once on final ones.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use handoff_states::driver::{self, Clock, TaskHandler, TaskReply, VirtualClock};
use handoff_states::TaskRequest;
use handoff_states::{definition, Execution, ExecutionInfo, Failure, StateMachine, Status};
use serde_json::json;

const FUNCTIONS: [&str; 6] = ["Context", "Reason", "Decide", "Approval", "Act", "Finalize"];

fn workflow() -> std::sync::Arc<StateMachine> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/workflow.asl.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let arns: HashMap<String, String> = FUNCTIONS
        .iter()
        .map(|f| (format!("{f}FunctionArn"), format!("fn:{f}")))
        .collect();
    StateMachine::from_json(&definition::substitute(&text, &arns)).unwrap()
}

/// Each function answers from its script (errors first, in order), then
/// succeeds; every invocation is counted, with the virtual time it came at.
struct Stages<'c> {
    failures: BTreeMap<&'static str, Vec<&'static str>>,
    calls: BTreeMap<String, Vec<DateTime<Utc>>>,
    clock: &'c VirtualClockHandle,
    approval: bool,
}

/// The driver owns the clock mutably; the handler reads the same time.
struct VirtualClockHandle(std::cell::Cell<DateTime<Utc>>);

impl TaskHandler for Stages<'_> {
    fn invoke(&mut self, request: &TaskRequest) -> TaskReply {
        let function = request.payload["FunctionName"]
            .as_str()
            .unwrap()
            .trim_start_matches("fn:")
            .to_string();
        let key = match request.token {
            Some(_) => format!("{function}.request"),
            None => function.clone(),
        };
        self.calls.entry(key).or_default().push(self.clock.0.get());
        let script = self.failures.entry(leak(&function)).or_default();
        if !script.is_empty() {
            let error = script.remove(0);
            return TaskReply::Failed(Failure::new(error, "scripted"));
        }
        if request.token.is_some() {
            return TaskReply::Pending;
        }
        let result = match function.as_str() {
            "Decide" => {
                json!({ "needs_approval": self.approval, "approval_timeout_seconds": 3600 })
            }
            _ => json!({}),
        };
        TaskReply::Succeeded(json!({ "Payload": result }))
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// A clock the handler can read while the driver advances it.
struct SharedClock<'c> {
    inner: VirtualClock,
    handle: &'c VirtualClockHandle,
}

impl Clock for SharedClock<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    fn wait_until(&mut self, until: DateTime<Utc>) {
        self.inner.wait_until(until);
        self.handle.0.set(self.inner.now());
    }
}

/// Runs one execution with `failures` scripted; answers its final status
/// and each function's invocation times.
type Calls = BTreeMap<String, Vec<DateTime<Utc>>>;

fn run(failures: &[(&'static str, &[&'static str])]) -> (&'static str, Calls) {
    drive(failures, false)
}

/// As [`run`], with Decide asking for an approval.
fn run_with_approval(failures: &[(&'static str, &[&'static str])]) -> (&'static str, Calls) {
    drive(failures, true)
}

fn drive(failures: &[(&'static str, &[&'static str])], approval: bool) -> (&'static str, Calls) {
    drive_from(
        json!({ "run_id": "run-1", "workflow": "support-triage" }),
        failures,
        approval,
    )
}

fn drive_from(
    input: serde_json::Value,
    failures: &[(&'static str, &[&'static str])],
    approval: bool,
) -> (&'static str, Calls) {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let handle = VirtualClockHandle(std::cell::Cell::new(t0));
    let mut stages = Stages {
        failures: failures.iter().map(|(f, e)| (*f, e.to_vec())).collect(),
        calls: BTreeMap::new(),
        clock: &handle,
        approval,
    };
    let mut clock = SharedClock {
        inner: VirtualClock::new(t0),
        handle: &handle,
    };
    let info = ExecutionInfo::local("workflow", "run-1", t0);
    let mut execution = Execution::start(workflow(), input, info);
    driver::run(&mut execution, &mut stages, &mut clock);
    let status = match execution.status() {
        Status::Running => "running",
        Status::Succeeded(_) => "succeeded",
        _ => "failed",
    };
    (status, stages.calls)
}

fn count(calls: &Calls, function: &str) -> usize {
    calls.get(function).map_or(0, Vec::len)
}

#[test]
fn an_unavailable_dependency_is_retried_until_the_stage_succeeds() {
    let (status, calls) = run(&[("Reason", &["Handoff.Unavailable", "Handoff.Unavailable"])]);
    assert_eq!(status, "succeeded");
    assert_eq!(count(&calls, "Reason"), 3);
    assert_eq!(
        count(&calls, "Finalize"),
        1,
        "finalized once, not as a failure"
    );
}

#[test]
fn retries_wait_minutes_not_seconds() {
    // Full jitter spreads each wait over [0, interval]: over four waits
    // (60, 120, 240, 480 s ceilings) a second-scale policy cannot add up.
    let (status, calls) = run(&[(
        "Context",
        &[
            "Handoff.Unavailable",
            "Handoff.Unavailable",
            "Handoff.Unavailable",
            "Handoff.Unavailable",
        ],
    )]);
    assert_eq!(status, "succeeded");
    let context = &calls["Context"];
    assert_eq!(context.len(), 5);
    let waited = context[4] - context[0];
    assert!(
        waited > chrono::Duration::seconds(60),
        "four retries within {waited}"
    );
    assert!(waited <= chrono::Duration::seconds(60 + 120 + 240 + 480));
}

#[test]
fn an_action_whose_attempts_ran_out_is_retried_then_recorded_as_failed() {
    let (status, calls) = run(&[("Act", &["Handoff.ActionFailed"; 10])]);
    assert_eq!(count(&calls, "Act"), 5, "one try and four retries");
    assert_eq!(status, "failed");
    assert_eq!(count(&calls, "Finalize"), 1, "RecordFailure ran");
}

#[test]
fn a_refused_action_and_invalid_input_fail_at_once() {
    for (function, error) in [
        ("Act", "Handoff.ActionRejected"),
        ("Decide", "Handoff.ValidationError"),
    ] {
        let (status, calls) = run(&[(function, &[error])]);
        assert_eq!(status, "failed", "{error}");
        assert_eq!(count(&calls, function), 1, "{error} is not retried");
    }
}

#[test]
fn unreachable_reviewers_are_retried_in_the_approval_request() {
    let (status, calls) =
        run_with_approval(&[("Approval", &["Handoff.NotifyError", "Handoff.Unavailable"])]);
    // Asked three times; then the (virtual) approval timeout ran its course.
    assert_eq!(count(&calls, "Approval.request"), 3, "{status}");
}

#[test]
fn a_redrive_resumes_at_the_approval_request_with_the_stored_timeout() {
    let input = json!({
        "run_id": "run-1",
        "workflow": "support-triage",
        "resume_at": "RequestApproval",
        "decide": { "result": { "needs_approval": true, "approval_timeout_seconds": 3600 } },
    });
    let (status, calls) = drive_from(input, &[], true);
    assert_eq!(count(&calls, "Approval.request"), 1, "{calls:?}");
    for skipped in ["Context", "Reason", "Decide"] {
        assert_eq!(count(&calls, skipped), 0, "{skipped} ran again: {calls:?}");
    }
    // Nobody answers: the stored timeout ran its course into the policy.
    assert_eq!(
        count(&calls, "Approval"),
        1,
        "the timeout task ran: {calls:?}"
    );
    assert_ne!(status, "running");
}
