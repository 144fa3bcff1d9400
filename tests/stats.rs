//! `handoff stats` and `handoff review-accuracy`: the figures after runs
//! that were approved and rejected by a person.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn stats_count_outcomes_reviews_and_approval_latency() {
    let dir = temp_dir("stats");
    let data = dir.to_str().unwrap();
    for verdict in ["--approve", "--reject"] {
        let (code, out, err) = handoff([
            "run",
            "--data-dir",
            data,
            verdict,
            "events/webhook-support-triage.json",
        ]);
        assert_eq!(code, 0, "{out}{err}");
    }

    let (code, out, err) = handoff(["stats", "--data-dir", data, "--json"]);
    assert_eq!(code, 0, "{err}");
    let s: Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(s["received"], 2, "{s}");
    assert_eq!(s["completed"], 1, "{s}");
    assert_eq!(s["rejected"], 1, "{s}");
    assert_eq!(s["reviewed"], 2, "{s}");
    assert_eq!(s["auto_resolved"], 0, "{s}");
    assert_eq!(s["approvals_decided"], 2, "{s}");
    assert!(s["approval_latency_p50_ms"].as_i64().is_some(), "{s}");
    assert!(s["mean_confidence"].as_f64().is_some(), "{s}");

    let (code, out, _) = handoff(["stats", "--data-dir", data]);
    assert_eq!(code, 0);
    assert!(out.contains("approval latency p50"), "{out}");
    assert!(out.contains("override rate"), "{out}");

    let (code, out, _) = handoff([
        "stats",
        "--data-dir",
        data,
        "--json",
        "--workflow",
        "lead-qualification",
    ]);
    assert_eq!(code, 0);
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["received"], 0, "other workflows are left out: {s}");

    let (code, out, err) = handoff(["review-accuracy", "--data-dir", data, "--json"]);
    assert_eq!(code, 0, "{err}");
    let reviews: Value = serde_json::from_str(&out).expect("--json prints JSON");
    let review = &reviews[0];
    assert_eq!(review["workflow"], "support-triage", "{reviews}");
    // The rejection said the action was wrong, not which label was right:
    // only the approved run reviewed the AI's label.
    assert_eq!(review["reviewed"], 1, "{reviews}");
    let label = s_label(review);
    assert_eq!(review["labels"][&label]["reviewed"], 1, "{reviews}");

    let (code, _, err) = handoff(["stats", "--data-dir", data, "--since", "3y"]);
    assert_ne!(code, 0);
    assert!(err.contains("--since"), "{err}");
}

/// The one AI label a review of identical runs holds.
fn s_label(review: &Value) -> String {
    let labels = review["labels"].as_object().expect("labels");
    assert_eq!(labels.len(), 1, "{review}");
    labels.keys().next().unwrap().clone()
}
