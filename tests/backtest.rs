//! `handoff backtest` on a data dir seeded with 300 decided support-triage
//! runs, a quarter of them with a reviewer's verdict: a candidate that moves
//! one rule's threshold reports exactly the runs an independent reading of
//! the seed says it changes, and `--fail-if` gates on the figures.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::history::{self, seeded, Seeded, RUNS};
use common::*;
use handoff_local::sqlite::SqliteStore;
use serde_json::{json, Value};

/// A `(from, to)` change to support-triage.yaml.
type Edit = (&'static str, &'static str);

/// `large-refund` from 50 rather than 100.
const LOWER_REFUND_THRESHOLD: Edit = (
    "ai.details.amount.value >= 100.0",
    "ai.details.amount.value >= 50.0",
);

/// Card problems wait for a person: the review load doubles.
const CARDS_NEED_APPROVAL: Edit = (
    "actions: [reply_to_customer, update_ticket, alert_cards_team]",
    "actions: [reply_to_customer, update_ticket, alert_cards_team]\n    approval: true",
);

/// The reply reworded, which only the `strong` LLM tier drafts.
const REWORDED_REPLY: Edit = (
    "A short, friendly first reply to the customer.",
    "A short, warm first reply to the customer.",
);

/// support-triage.yaml with `(from, to)` made, written beside the data.
fn candidate(dir: &Path, (from, to): Edit) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("workflows/support-triage.yaml")).unwrap();
    assert!(text.contains(from), "support-triage.yaml has `{from}`");
    let path = dir.join(format!("candidate-{}.yaml", text.len() + to.len()));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

fn backtest(data: &Path, spec: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args: Vec<&OsStr> = vec!["backtest".as_ref(), "--data-dir".as_ref()];
    args.extend([data.as_os_str(), "--spec".as_ref(), spec.as_os_str()]);
    args.extend(extra.iter().map(OsStr::new));
    handoff(args)
}

fn seeded_dir(tag: &str) -> Scratch {
    let dir = temp_dir(tag);
    let store = SqliteStore::open(dir.join("handoff.db")).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(history::seed(&store));
    dir
}

#[test]
fn a_moved_threshold_reports_exactly_the_runs_it_changes() {
    let dir = seeded_dir("backtest-threshold");
    let spec = candidate(&dir, LOWER_REFUND_THRESHOLD);
    let report = dir.join("report.html");
    let (code, out, err) = backtest(
        &dir,
        &spec,
        &["--json", "--report", report.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let f: Value = serde_json::from_str(&out).expect("--json prints JSON");

    // Independently: refunds of 50 up to 100 now match `large-refund`.
    let expected = history::refunds_in(50.0..100.0);
    assert!(expected.len() > 10, "the seed exercises the change");
    let changed = history::changed_ids(&f);
    assert_eq!(changed, expected);
    for c in f["changed"].as_array().unwrap() {
        assert_eq!(c["what"], json!(["priority"]), "{c}");
        assert_eq!(c["before"]["decision"]["rule"], "refund");
        assert_eq!(c["after"]["decision"]["rule"], "large-refund");
    }

    assert_eq!(f["runs"], RUNS, "{f}");
    assert_eq!(f["skipped"], 1, "the undecided run");
    let with_verdict: Vec<Seeded> = (0..RUNS)
        .map(seeded)
        .filter(|s| s.verdict.is_some())
        .collect();
    let kept = with_verdict
        .iter()
        .filter(|s| s.verdict == Some(s.label))
        .count();
    let accuracy = kept as f64 / with_verdict.len() as f64;
    assert_eq!(f["verdicts"], with_verdict.len());
    assert_eq!(f["before"]["accuracy"].as_f64(), Some(accuracy));
    assert_eq!(f["after"]["accuracy"].as_f64(), Some(accuracy));
    let refunds = (0..RUNS).filter(|i| i.is_multiple_of(3)).count();
    assert_eq!(f["before"]["review_load"], refunds, "refunds need approval");
    assert_eq!(f["after"]["review_load"], refunds);

    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("<svg") && page.contains("id=\"changed\""));
    for id in &expected {
        assert!(page.contains(id.as_str()), "the report lists {id}");
    }
    assert!(!page.contains("seeded"), "no message text in the report");
}

#[test]
fn fail_if_gates_on_the_figures() {
    let dir = seeded_dir("backtest-gate");
    let spec = candidate(&dir, CARDS_NEED_APPROVAL);
    let gate = "accuracy < 0.4 || review_load > 1.2 * before.review_load";
    let (code, out, err) = backtest(&dir, &spec, &["--fail-if", gate]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("--fail-if holds"), "{err}");
    assert!(out.contains("review load"), "{out}");

    let (code, out, err) = backtest(&dir, &spec, &["--fail-if", "accuracy < 0.4"]);
    assert_eq!(code, 0, "{out}{err}");

    // A gate that cannot be evaluated is not a pass, nor a failed gate.
    let (code, _, err) = backtest(&dir, &spec, &["--fail-if", "acuracy < 0.4"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown variable `acuracy`"), "{err}");

    // The newest 30 runs alone.
    let (code, out, err) = backtest(&dir, &spec, &["--runs", "30", "--json"]);
    assert_eq!(code, 0, "{err}");
    let f: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        f["runs"].as_u64().unwrap() + f["skipped"].as_u64().unwrap(),
        30
    );
}

#[test]
fn a_spec_of_another_workflow_is_refused() {
    let dir = seeded_dir("backtest-wrong");
    let spec = repo_root().join("workflows/lead-qualification.yaml");
    let (code, _, err) = backtest(&dir, &spec, &["--workflow", "support-triage"]);
    assert_eq!(code, 2);
    assert!(err.contains("not of `support-triage`"), "{err}");
}

#[test]
fn the_judged_runs_export_as_a_dataset_eval_reads() {
    let dir = seeded_dir("dataset");
    let file = dir.join("judged.jsonl");
    let export: [&OsStr; 8] = [
        "dataset".as_ref(),
        "export".as_ref(),
        "--workflow".as_ref(),
        "support-triage".as_ref(),
        "--data-dir".as_ref(),
        dir.as_os_str(),
        "--out".as_ref(),
        file.as_os_str(),
    ];
    let (code, _, err) = handoff(export);
    assert_eq!(code, 0, "{err}");

    let rows: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let judged: Vec<Seeded> = (0..RUNS)
        .map(seeded)
        .filter(|s| s.verdict.is_some())
        .collect();
    assert_eq!(rows.len(), judged.len());
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            json!({"plan": {"tier": 3}}).to_string(),
        ))
    };
    for row in &rows {
        let s = judged
            .iter()
            .find(|s| row["run_id"] == s.id)
            .expect("only judged runs");
        assert_eq!(row["label"], s.verdict.unwrap(), "the reviewer's label");
        assert_eq!(row["predicted"], s.label);
        assert_eq!(row["fields"]["details"]["amount"]["value"], s.amount);
        assert_eq!(row["context_digest"], digest);
        assert_eq!(row["reviewer"], "ana@example.com");
        assert!(
            row.get("context").is_none(),
            "no customer record in the file"
        );
    }

    // `handoff eval` scores the embedded tier on it as it stands.
    let eval: [&OsStr; 6] = [
        "eval".as_ref(),
        "--task".as_ref(),
        "support-triage/issue_type".as_ref(),
        "--json".as_ref(),
        "--data".as_ref(),
        file.as_os_str(),
    ];
    let (code, out, err) = handoff(eval);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["examples"], judged.len(), "{report}");
}

#[test]
fn a_changed_llm_task_keeps_its_recorded_answer_unless_with_llm() {
    let dir = seeded_dir("backtest-llm");
    let spec = candidate(&dir, REWORDED_REPLY);
    let (code, out, err) = backtest(&dir, &spec, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let f: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(f["kept"]["reply"], RUNS, "{f}");
    assert_eq!(
        f["changed"].as_array().unwrap().len(),
        0,
        "nothing else moved"
    );
    assert_eq!(f["before"]["llm_tokens"], RUNS * 120);
    let (_, text, _) = backtest(&dir, &spec, &[]);
    assert!(
        text.contains("task `reply` changed but only LLM tiers answer it"),
        "{text}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(handoff_llm::testing::ScriptedServer::start());
    let url = server.openai_url();

    // The newest five runs are the undecided one and four that drafted a
    // reply. Declined at the prompt: nothing is asked, nothing spent.
    let declined = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .args([
            "backtest",
            "--with-llm",
            "--llm",
            &url,
            "--runs",
            "5",
            "--data-dir",
        ])
        .arg(&dir)
        .arg("--spec")
        .arg(&spec)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"n\n")?;
            child.wait_with_output()
        })
        .unwrap();
    let err = String::from_utf8_lossy(&declined.stderr);
    assert_eq!(declined.status.code(), Some(2), "{err}");
    assert!(
        err.contains("asking reply again on 5 runs: about 480 tokens, 0.0080"),
        "{err}"
    );
    assert!(err.contains("not run"), "{err}");
    assert!(server.requests().is_empty());

    // Agreed in advance: the reply is drafted again for each run.
    let (code, out, err) = backtest(
        &dir,
        &spec,
        &[
            "--with-llm",
            "--llm",
            &url,
            "--yes",
            "--runs",
            "5",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let f: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(f["asked"]["reply"], 4, "{f}");
    assert!(f["kept"].as_object().unwrap().is_empty(), "{f}");
    assert_eq!(server.requests().len(), 4);
}
