//! `handoff eval` as a user types it: the real binary on CSV files.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// BANKING77 sits beside the checkout; CI clones with it in place, so a
/// missing file is a failure, never a skip.
const BANKING77: &str = "../shared/data/banking77/train.csv";
const CATEGORIES: &str = "../shared/data/banking77/categories.json";
const MAP: &str = "workflows/support-triage.banking77.csv";
const SPEC: &str = "workflows/support-triage.yaml";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn eval(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .arg("eval")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run handoff");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(out: &Out) -> Value {
    assert_eq!(
        out.code, 0,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn fails_with(args: &[&str], message: &str) {
    let out = eval(args);
    assert_ne!(out.code, 0, "{args:?} succeeded: {}", out.stdout);
    assert!(
        out.stderr.contains(message),
        "{args:?}: expected {message:?} in stderr:\n{}",
        out.stderr
    );
}

/// Three easily told apart labels, eight messages each.
fn small_csv(dir: &Path) -> PathBuf {
    let mut csv = String::from("text,category\n");
    let topics = [
        ("card", ["lost", "stolen", "blocked", "declined"]),
        (
            "refund",
            ["money back", "charged twice", "return", "reverse"],
        ),
        (
            "login",
            ["password", "locked out", "two-factor", "cannot sign in"],
        ),
    ];
    for (label, words) in topics {
        for (i, w) in words.iter().enumerate() {
            csv.push_str(&format!("\"my {label} {w}, please help\",{label}\n"));
            csv.push_str(&format!("\"{w} again with the {label} ({i})\",{label}\n"));
        }
    }
    let path = dir.join("small.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// `small_csv` in a fresh scratch folder.
struct Small {
    dir: Scratch,
    train: String,
}

impl Small {
    fn new() -> Small {
        let dir = temp_dir("eval");
        let train = small_csv(&dir).to_str().unwrap().to_string();
        Small { dir, train }
    }

    /// `handoff eval` with two-fold cross-validation on it, then `extra`.
    fn eval_two_folds(&self, extra: &[&str]) -> Out {
        let mut args = vec!["--train", &self.train, "--folds", "2"];
        args.extend(extra);
        eval(&args)
    }
}

fn in_unit(report: &Value, key: &str) -> f64 {
    let v = report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing from {report}"));
    assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    v
}

#[test]
fn json_report_has_the_figures_in_range_and_plot_is_svg() {
    let small = Small::new();
    let plot = small.dir.join("coverage.svg");
    let report = json(&small.eval_two_folds(&["--json", "--plot", plot.to_str().unwrap()]));
    let accuracy = in_unit(&report, "accuracy");
    in_unit(&report, "macro_f1");
    in_unit(&report, "coverage_at_target");
    in_unit(&report, "threshold_at_target");
    // Chance is a third; every label has a word of its own in each message.
    assert!(accuracy > 0.6, "{report}");
    let svg = std::fs::read_to_string(&plot).expect("--plot writes the file");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn json_output_is_json_alone() {
    let out = Small::new().eval_two_folds(&["--json"]);
    json(&out);
    // The progress bar is hidden with --json: nothing else to read.
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn text_report_names_each_label() {
    let out = Small::new().eval_two_folds(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("accuracy"), "{}", out.stdout);
    for label in ["card", "refund", "login"] {
        assert!(out.stdout.contains(label), "{label}: {}", out.stdout);
    }
}

#[test]
fn learning_curve_feeds_the_rest_in_batches() {
    let small = Small::new();
    let plot = small.dir.join("curve.svg");
    let curve = json(&small.eval_two_folds(&[
        "--learning-curve",
        "--start",
        "2",
        "--batch",
        "4",
        "--json",
        "--plot",
        plot.to_str().unwrap(),
    ]));
    // 24 messages: 12 held out, 6 to start from, 6 fed in two batches.
    let points = curve["points"].as_array().unwrap();
    let fed: Vec<u64> = points
        .iter()
        .map(|p| p["corrections"].as_u64().unwrap())
        .collect();
    assert_eq!(fed, [0, 4, 6], "{curve}");
    assert_eq!(points[2]["examples"], 12);
    in_unit(&curve, "all_at_once");
    assert!(std::fs::read_to_string(&plot).unwrap().starts_with("<svg"));
}

#[test]
fn label_names_teach_the_words_of_each_label() {
    let dir = temp_dir("eval");
    let train = dir.join("train.csv");
    std::fs::write(
        &train,
        "text,category\n\
         money back now,zeta\ngive money back,zeta\nmoney back please,zeta\n\
         sign in broken,kappa\ncannot sign in,kappa\nsign in fails,kappa\n",
    )
    .unwrap();
    // Each test message is only its label's name: no word or character
    // n-gram of it occurs in the training texts.
    let test = dir.join("test.csv");
    std::fs::write(&test, "text,category\nzeta,zeta\nkappa,kappa\n").unwrap();
    let (train, test) = (train.to_str().unwrap(), test.to_str().unwrap());
    // N-grams alone: the encoder would know what the words mean.
    let plain = json(&eval(&[
        "--train",
        train,
        "--test",
        test,
        "--json",
        "--weights-free",
    ]));
    // Nothing to go on: both messages get the same label.
    assert_eq!(plain["accuracy"], 0.5, "{plain}");
    let named = json(&eval(&[
        "--train",
        train,
        "--test",
        test,
        "--json",
        "--label-names",
        "--weights-free",
    ]));
    assert_eq!(named["accuracy"], 1.0, "{named}");
}

#[test]
fn bad_inputs_exit_non_zero_with_a_message() {
    let small = Small::new();
    let (dir, train) = (&small.dir, small.train.as_str());
    let missing = dir.join("nope.csv");
    fails_with(
        &["--train", missing.to_str().unwrap()],
        "nope.csv: no such file",
    );
    let columns = dir.join("columns.csv");
    std::fs::write(&columns, "message,intent\nhello,greeting\n").unwrap();
    fails_with(
        &["--train", columns.to_str().unwrap()],
        "expected columns `text` and `category`",
    );
    // Eight per label, so four in each 2-fold training part.
    fails_with(
        &["--train", train, "--folds", "2", "--shots", "5"],
        "--shots 5: label `card` has only 4 training examples",
    );
    fails_with(
        &["--train", train, "--test", train, "--shots", "9"],
        "--shots 9: label `card` has only 8 training examples",
    );
    fails_with(
        &["--train", train, "--folds", "1"],
        "--folds 1: cross-validation needs at least 2",
    );
}

#[test]
fn map_relabels_and_an_unmapped_category_is_named() {
    let small = Small::new();
    let map = small.dir.join("map.csv");
    std::fs::write(
        &map,
        "intent,label\ncard,money\nrefund,money\nlogin,access\n",
    )
    .unwrap();
    let report = json(&small.eval_two_folds(&["--json", "--map", map.to_str().unwrap()]));
    let labels: BTreeSet<&str> = strs(&report["per_label"], "label").into_iter().collect();
    assert_eq!(labels, BTreeSet::from(["access", "money"]));

    std::fs::write(&map, "intent,label\ncard,money\nlogin,access\n").unwrap();
    fails_with(
        &["--train", &small.train, "--map", map.to_str().unwrap()],
        "category `refund` is not in the label map",
    );
}

/// 77 intents, so chance is 1.3%; ten shots per intent score about 73%
/// under 5-fold cross-validation. Two folds keep this fast.
#[test]
fn banking77_ten_shot_is_far_above_chance() {
    let report = json(&eval(&[
        "--train", BANKING77, "--shots", "10", "--folds", "2", "--json",
    ]));
    let accuracy = in_unit(&report, "accuracy");
    assert!(accuracy > 0.6, "{report}");
    assert_eq!(report["train_examples"], 770);
}

fn spec_labels() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join(SPEC)).unwrap();
    let workflow = handoff_spec::Workflow::from_yaml(SPEC, &text).expect("valid spec");
    workflow.spec.reason.primary_labels().into_iter().collect()
}

#[test]
fn support_triage_map_covers_every_banking77_intent_with_a_spec_label() {
    let categories: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join(CATEGORIES)).expect("categories.json"),
    )
    .unwrap();
    assert_eq!(categories.len(), 77);
    let map = std::fs::read_to_string(repo_root().join(MAP)).expect("the map is checked in");
    let mut lines = map.lines();
    assert_eq!(lines.next(), Some("intent,label"));
    let labels = spec_labels();
    let mut mapped = BTreeSet::new();
    let mut used = BTreeSet::new();
    for line in lines {
        let (intent, label) = line
            .split_once(',')
            .map(|(i, l)| (i.to_string(), l.to_string()))
            .unwrap_or_else(|| panic!("{line:?}: expected intent,label"));
        assert!(
            labels.contains(&label),
            "{intent} -> {label}: not a spec label"
        );
        assert!(mapped.insert(intent.clone()), "{intent} mapped twice");
        used.insert(label);
    }
    let categories: BTreeSet<String> = categories.into_iter().collect();
    assert_eq!(mapped, categories, "the map names exactly the 77 intents");
    // No BANKING77 intent is about the app failing: technical_issue keeps
    // only its spec examples (README, "Evaluating the AI step").
    let unused: Vec<&String> = labels.difference(&used).collect();
    assert_eq!(unused, ["technical_issue"]);
}

#[test]
fn support_triage_mapped_eval_scores_the_routes() {
    let report = json(&eval(&[
        "--train", BANKING77, "--map", MAP, "--folds", "2", "--json",
    ]));
    let accuracy = in_unit(&report, "accuracy");
    let labels = spec_labels();
    let scored = strs(&report["per_label"], "label");
    assert_eq!(scored.len(), 6, "{scored:?}");
    for label in scored {
        assert!(labels.contains(label), "{label} is not a spec label");
    }
    // Six routes, the largest holding about a third of the messages; the
    // classifier scores about 95% on them.
    assert!(accuracy > 0.85, "{report}");
}
