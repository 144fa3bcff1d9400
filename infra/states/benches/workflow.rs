//! State transitions per second running the shipped workflow with in-memory stub tasks, side by
//! side with aws-local-stepfunctions (the npm peer) when `bench/node_modules` is installed
//! (`infra/states/bench/run.sh` does that and then runs this bench).
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use handoff_states::definition::substitute;
use handoff_states::{Execution, ExecutionInfo, StateMachine, Status, TaskRequest};
use serde_json::{json, Value};

// The `handoff` binary uses the same allocator; the engine allocates many small JSON nodes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FUNCTIONS: &[&str] = &[
    "Context",
    "Reason",
    "Decide",
    "Approval",
    "Act",
    "Finalize",
    "RecordFailure",
    "Timeout",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn definition() -> String {
    let text = std::fs::read_to_string(manifest_dir().join("../statemachine/workflow.asl.json"))
        .expect("infra/statemachine/workflow.asl.json is readable");
    let subs: HashMap<String, String> = FUNCTIONS
        .iter()
        .map(|f| {
            (
                format!("{f}FunctionArn"),
                format!("arn:aws:lambda:local:000000000000:function:handoff-{f}"),
            )
        })
        .collect();
    substitute(&text, &subs)
}

/// The stub Lambda results: the run needs approval, and the reviewer approves.
fn stub(request: &TaskRequest) -> Value {
    match request.state.as_str() {
        "Decide" => json!({"Payload": {"needs_approval": true, "approval_timeout_seconds": 3600}}),
        _ => json!({"Payload": {"ok": true}}),
    }
}

fn run_once(machine: &std::sync::Arc<StateMachine>, input: &Value) -> usize {
    let now = Utc::now();
    let info = ExecutionInfo::local("workflow", "bench", now);
    let mut execution = Execution::start(machine.clone(), input.clone(), info);
    loop {
        let requests = execution.advance(now);
        if requests.is_empty() {
            break;
        }
        for r in requests {
            match &r.token {
                Some(token) => {
                    execution
                        .task_succeeded(now, r.id, json!({}))
                        .expect("open task");
                    execution
                        .send_task_success(now, token, json!({"decision": "approved"}))
                        .expect("token is open");
                }
                None => execution
                    .task_succeeded(now, r.id, stub(&r))
                    .expect("open task"),
            }
        }
    }
    assert!(
        matches!(execution.status(), Status::Succeeded(_)),
        "{:?}",
        execution.status()
    );
    execution
        .history()
        .iter()
        .filter(|e| e.kind.ends_with("StateEntered"))
        .count()
}

fn ours(seconds: f64) -> (f64, usize) {
    let machine = StateMachine::from_json(&definition()).expect("the shipped workflow parses");
    let input = json!({"run_id": "run-1", "workflow": "triage"});
    let per_run = run_once(&machine, &input);
    let start = Instant::now();
    let mut transitions = 0usize;
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        for _ in 0..100 {
            transitions += run_once(&machine, &input);
        }
    }
    (transitions as f64 / start.elapsed().as_secs_f64(), per_run)
}

fn peer(seconds: f64, per_run: usize) -> Option<f64> {
    let dir = manifest_dir().join("bench");
    if !dir.join("node_modules/aws-local-stepfunctions").exists() {
        eprintln!("peer skipped: run infra/states/bench/run.sh to install aws-local-stepfunctions");
        return None;
    }
    let output = Command::new("node")
        .arg(dir.join("peer.mjs"))
        .arg(definition())
        .arg(seconds.to_string())
        .arg(per_run.to_string())
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("peer failed: {}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    let report: Value = serde_json::from_slice(&output.stdout).ok()?;
    report["transitions_per_second"].as_f64()
}

fn main() {
    // A fixed number of executions and no peer: a load-independent figure under
    // `valgrind --tool=callgrind` (instructions per transition).
    if let Some(runs) = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        let machine = StateMachine::from_json(&definition()).expect("the shipped workflow parses");
        let input = json!({"run_id": "run-1", "workflow": "triage"});
        let transitions: usize = (0..runs).map(|_| run_once(&machine, &input)).sum();
        println!("{runs} executions, {transitions} state transitions");
        return;
    }
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let (rust, per_run) = ours(seconds);
    println!("workflow.asl.json, stub tasks, {per_run} state transitions per execution");
    println!("handoff-states:               {rust:>12.0} transitions/s");
    match peer(seconds, per_run) {
        Some(js) => {
            println!("aws-local-stepfunctions 3.0.0: {js:>12.0} transitions/s");
            println!("ratio:                        {:>12.1}x", rust / js);
        }
        None => println!("aws-local-stepfunctions 3.0.0: not measured"),
    }
}
