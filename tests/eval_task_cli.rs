//! `handoff eval --task WORKFLOW/TASK`: one AI task measured on JSONL, as a
//! user types it, against the real binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn eval(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .arg("eval")
        .args(args)
        .arg("--json")
        .current_dir(repo_root())
        .output()
        .expect("run handoff");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn jsonl(dir: &Path, name: &str, rows: &[Value]) -> String {
    let path = dir.join(name);
    let text: Vec<String> = rows.iter().map(Value::to_string).collect();
    std::fs::write(&path, text.join("\n")).unwrap();
    path.to_string_lossy().into_owned()
}

/// `rows` as `{name}.jsonl` in a fresh scratch folder: the folder (removed
/// when dropped) and the file's path.
fn scratch_jsonl(name: &str, rows: &[Value]) -> (Scratch, String) {
    let dir = temp_dir(&format!("eval-task-{name}"));
    let path = jsonl(&dir, &format!("{name}.jsonl"), rows);
    (dir, path)
}

#[test]
fn a_classify_task_is_scored_per_label_on_the_embedded_tier() {
    let (_dir, data) = scratch_jsonl(
        "classify",
        &[
            json!({"text": "My card was stolen, please block it", "label": "card_problem"}),
            json!({"text": "I want my money back for order 123", "label": "refund_request"}),
            json!({"text": "I cannot log in since the update", "label": "account_access"}),
        ],
    );
    let (code, report, stderr) = eval(&["--task", "support-triage/issue_type", "--data", &data]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["examples"], 3);
    assert_eq!(report["kind"], "classify");
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    // The per-label rows agree with the accuracy: hits over all examples.
    let hits: f64 = report["per_label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["recall"].as_f64().unwrap() * l["support"].as_f64().unwrap())
        .sum();
    assert!((hits / 3.0 - accuracy).abs() < 1e-9, "{report}");
    assert_eq!(
        report["input_tokens"], 0,
        "the embedded tier costs no tokens"
    );
    assert_eq!(report["calls"]["answered"], 3);
}

#[test]
fn an_extract_task_is_scored_per_field_with_exact_match() {
    let (_dir, data) = scratch_jsonl(
        "extract",
        &[
            // Both fields found and right.
            json!({"text": "Order ORD-1001 was charged twice, write to ana@example.com",
                   "expected": {"order_id": "ORD-1001", "email": "ana@example.com"}}),
            // The order id found is not the one expected; no e-mail to find.
            json!({"text": "About order ORD-2002, nothing else",
                   "expected": {"order_id": "ORD-9999"}}),
        ],
    );
    let (code, report, stderr) = eval(&[
        "--task",
        "support-triage/details",
        "--data",
        &data,
        "--concurrency",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let field = |name: &str| {
        report["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .cloned()
            .unwrap()
    };
    let order = field("order_id");
    assert_eq!(
        (order["predicted"].as_u64(), order["expected"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(order["precision"], 0.5);
    assert_eq!(order["recall"], 0.5);
    let email = field("email");
    assert_eq!(
        (email["precision"].as_f64(), email["recall"].as_f64()),
        (Some(1.0), Some(1.0))
    );
    assert_eq!(report["exact_match"], 0.5);
}

#[test]
fn a_task_the_workflow_lacks_or_an_unconfigured_tier_is_a_clear_error() {
    let (dir, data) = scratch_jsonl("errors", &[json!({"text": "hi", "label": "card_problem"})]);
    let bad = jsonl(
        &dir,
        "bad.jsonl",
        &[json!({"text": "hi", "label": "weather"})],
    );
    let cases: [(&[&str], &str); 3] = [
        (
            &["--task", "support-triage/nope", "--data", &data],
            "has no task `nope`",
        ),
        (
            &[
                "--task",
                "support-triage/issue_type",
                "--data",
                &data,
                "--tier",
                "fast",
            ],
            "--tier fast is not configured",
        ),
        (
            &["--task", "support-triage/issue_type", "--data", &bad],
            "`weather` is not a label",
        ),
    ];
    for (args, message) in cases {
        let (code, _, stderr) = eval(args);
        assert_ne!(code, 0, "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
