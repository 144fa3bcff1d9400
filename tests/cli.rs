//! `handoff run`, `runs` and `show` as a user types them.

mod common;

use common::*;
use serde_json::Value;

/// Exit code and standard output.
fn run_cli(args: &[&str]) -> (i32, String) {
    let (code, out, _) = handoff(args);
    (code, out)
}

/// `handoff run --data-dir data [flags] event`.
fn run_event(data: &str, flags: &[&str], event: &str) -> (i32, String) {
    let mut args = vec!["run", "--data-dir", data];
    args.extend(flags);
    args.push(event);
    run_cli(&args)
}

#[test]
fn run_prints_a_timeline_and_runs_and_show_find_it() {
    let dir = temp_dir("cli");
    let data = dir.to_str().unwrap();
    let (code, out) = run_event(
        data,
        &["--approve", "--json"],
        "events/webhook-support-triage.json",
    );
    assert_eq!(code, 0, "{out}");
    let summary: Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(summary["status"], "COMPLETED");
    assert_eq!(summary["workflow"], "support-triage");
    let stages = strs(&summary["stages"], "stage");
    for stage in [
        "ingest", "context", "reason", "decide", "approval", "act", "finalize",
    ] {
        assert!(stages.contains(&stage), "{stage} missing from {stages:?}");
    }
    let run_id = summary["run_id"].as_str().unwrap();

    let (code, out) = run_event(data, &["--reject"], "events/webhook-support-triage.json");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("REJECTED"), "{out}");
    assert!(
        out.contains("decide.finished"),
        "the timeline is printed: {out}"
    );

    let (code, out) = run_cli(&["runs", "--data-dir", data, "--status", "completed"]);
    assert_eq!(code, 0);
    assert!(out.contains(run_id), "{out}");
    assert!(!out.contains("REJECTED"), "filtered by status: {out}");

    let (code, out) = run_cli(&["show", "--data-dir", data, run_id]);
    assert_eq!(code, 0);
    assert!(out.contains("finalize.finished"), "{out}");
    assert!(out.contains("approval"), "{out}");
}

#[test]
fn run_goes_through_the_stack_already_serving_the_data_dir() {
    let dir = temp_dir("cli-live");
    let up = Up::start(&UpOptions::new(&dir));
    let data = dir.to_str().unwrap();
    let (code, out) = run_event(
        data,
        &["--approve"],
        "events/webhook-lead-qualification.json",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("served by {}", up.url)), "{out}");
    assert!(out.contains("COMPLETED"), "{out}");
    assert!(out.contains("finalize.finished"), "{out}");
    // A second server on the same data dir is refused.
    let (code, _) = run_cli(&["up", "--port", "0", "--data-dir", data]);
    assert_ne!(code, 0);
}
