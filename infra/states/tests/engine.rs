//! The host-facing engine API: task requests, token callbacks, timers, persistence.
use chrono::{Duration, TimeZone, Utc};
use handoff_states::{Execution, ExecutionInfo, Failure, StateMachine, Status};
use serde_json::{json, Value};

fn approval_machine() -> std::sync::Arc<StateMachine> {
    StateMachine::from_value(json!({
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"token.$": "$$.Task.Token", "run.$": "$.run"},
                "TimeoutSeconds": 60,
                "ResultPath": "$.approval",
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"}],
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"},
            "TimedOut": {"Type": "Fail", "Error": "ApprovalTimedOut"}
        }
    }))
    .unwrap()
}

fn start() -> (Execution, chrono::DateTime<Utc>) {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let info = ExecutionInfo::local("approval", "run-1", t0);
    (
        Execution::start(approval_machine(), json!({"run": "r1"}), info),
        t0,
    )
}

/// The reviewer's callback arrives; the execution succeeds with it.
fn approve_and_finish(execution: &mut Execution, token: &str, at: chrono::DateTime<Utc>) {
    execution
        .send_task_success(at, token, json!({"decision": "approved"}))
        .unwrap();
    execution.advance(at);
    assert_eq!(
        execution.status(),
        &Status::Succeeded(json!({"run": "r1", "approval": {"decision": "approved"}}))
    );
}

#[test]
fn token_task_resumes_after_a_restart_and_finishes_on_send_task_success() {
    let (mut execution, t0) = start();
    let requests = execution.advance(t0);
    assert_eq!(requests.len(), 1);
    let token = requests[0]
        .token
        .clone()
        .expect("waitForTaskToken tasks carry a token");
    assert_eq!(requests[0].payload["token"], Value::String(token.clone()));
    execution
        .task_succeeded(t0, requests[0].id, json!({}))
        .unwrap();

    let saved = serde_json::to_string(&execution).unwrap();
    let mut resumed: Execution = serde_json::from_str(&saved).unwrap();
    assert_eq!(resumed.open_tasks().len(), 1);

    approve_and_finish(&mut resumed, &token, t0 + Duration::seconds(5));
    let kinds: Vec<&str> = resumed.history().iter().map(|e| &*e.kind).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
}

/// What a host saves at every transition: no definition in it, the
/// submitted task known after the reload, and the run finishes the same.
#[test]
fn a_detached_save_leaves_the_definition_out_and_resumes_under_it() {
    let (mut execution, t0) = start();
    let requests = execution.advance(t0);
    let token = requests[0].token.clone().unwrap();
    assert!(execution.submitted_task_ids().is_empty());
    execution
        .task_succeeded(t0, requests[0].id, json!({}))
        .unwrap();
    assert_eq!(execution.submitted_task_ids(), [requests[0].id]);

    let saved = execution.to_json_detached();
    assert!(
        !saved.contains("StartAt"),
        "the definition was saved: {saved}"
    );
    assert!(saved.len() < serde_json::to_string(&execution).unwrap().len());
    let mut resumed = Execution::from_json_detached(&saved, approval_machine()).unwrap();
    assert_eq!(resumed.submitted_task_ids(), [requests[0].id]);
    assert_eq!(resumed.to_json_detached(), saved);

    approve_and_finish(&mut resumed, &token, t0 + Duration::seconds(5));
    assert!(resumed.submitted_task_ids().is_empty());
}

#[test]
fn unanswered_token_task_times_out_into_its_catcher() {
    let (mut execution, t0) = start();
    execution.advance(t0);
    let wake = execution.next_wake().expect("the task timeout is a timer");
    assert_eq!(wake, t0 + Duration::seconds(60));
    execution.advance(wake);
    assert_eq!(
        execution.status(),
        &Status::Failed(Failure {
            error: Some("ApprovalTimedOut".into()),
            cause: None
        })
    );
}

#[test]
fn unknown_tokens_are_rejected() {
    let (mut execution, t0) = start();
    execution.advance(t0);
    assert!(execution
        .send_task_success(t0, "not-a-token", json!({}))
        .is_err());
}

#[test]
fn retries_back_off_then_succeed() {
    let machine = StateMachine::from_value(json!({
        "StartAt": "Call",
        "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true,
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 2, "BackoffRate": 3}]
        }}
    }))
    .unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut execution = Execution::start(machine, json!({}), ExecutionInfo::local("m", "e", t0));
    let first = execution.advance(t0);
    execution
        .task_failed(
            t0,
            first[0].id,
            Failure::new("Lambda.ServiceException", "boom"),
        )
        .unwrap();
    assert!(execution.advance(t0).is_empty());
    assert_eq!(execution.next_wake(), Some(t0 + Duration::seconds(2)));
    let second = execution.advance(t0 + Duration::seconds(2));
    assert_eq!(second.len(), 1);
    execution
        .task_succeeded(t0, second[0].id, json!({"ok": true}))
        .unwrap();
    execution.advance(t0 + Duration::seconds(2));
    assert_eq!(execution.status(), &Status::Succeeded(json!({"ok": true})));
}

#[test]
fn a_state_save_leaves_the_history_out_and_resumes_with_the_events_saved_beside_it() {
    let (mut execution, t0) = start();
    let requests = execution.advance(t0);
    let token = requests[0].token.clone().unwrap();
    let saved_events = execution.history().len();
    execution
        .task_succeeded(t0, requests[0].id, json!({}))
        .unwrap();

    let state = execution.to_json_state();
    assert!(
        !state.contains("TaskScheduled"),
        "the history was saved: {state}"
    );
    let events = execution.history().to_vec();
    assert!(events.len() > saved_events);
    let mut resumed =
        Execution::from_json_state(&state, events.clone(), approval_machine()).unwrap();
    assert_eq!(resumed.to_json_detached(), execution.to_json_detached());

    // A gap in the events is refused, not papered over with reused ids.
    let mut gap = events;
    gap.remove(1);
    let err = Execution::from_json_state(&state, gap, approval_machine()).unwrap_err();
    assert!(
        err.to_string().contains("history event 2 is missing"),
        "{err}"
    );

    approve_and_finish(&mut resumed, &token, t0 + Duration::seconds(5));
    let ids: Vec<u64> = resumed.history().iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_full_detached_save_still_reads_back_as_a_state_with_no_events_beside_it() {
    let (mut execution, t0) = start();
    execution.advance(t0);
    let full = execution.to_json_detached();
    let resumed = Execution::from_json_state(&full, Vec::new(), approval_machine()).unwrap();
    assert_eq!(resumed.history(), execution.history());
}
