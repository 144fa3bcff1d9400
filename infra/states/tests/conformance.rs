//! Runs every dev case of the ASL conformance corpus (recorded on real AWS). Cases known not to
//! pass are listed, each with a reason, in `tests/known_failures.txt`; the test fails when an
//! unlisted case fails or a listed case starts passing, so the list stays honest.
use std::collections::BTreeMap;
use std::path::PathBuf;

use handoff_states::conformance::run_case;
use serde_json::Value;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/asl-conformance/dev.jsonl")
}

fn known_failures() -> BTreeMap<String, String> {
    include_str!("known_failures.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, reason) = l
                .split_once(" -- ")
                .expect("each line is `<id> -- <reason>`");
            (id.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}

/// compare.py's equality: numbers by value, booleans are not numbers, wildcard pointers match anything.
fn json_equal(a: &Value, b: &Value, wild: &[String], ptr: &str) -> bool {
    if wild.iter().any(|w| w == ptr) {
        return true;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    let key = k.replace('~', "~0").replace('/', "~1");
                    y.get(k)
                        .is_some_and(|w| json_equal(v, w, wild, &format!("{ptr}/{key}")))
                })
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .enumerate()
                    .all(|(i, (p, q))| json_equal(p, q, wild, &format!("{ptr}/{i}")))
        }
        _ => a == b,
    }
}

fn agrees(case: &Value, result: &Value) -> bool {
    let expect = &case["expect"];
    if result["status"] != expect["status"] {
        return false;
    }
    if expect["status"] == "SUCCEEDED" {
        let wild: Vec<String> = expect["wildcards"]
            .as_array()
            .map(|w| {
                w.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        return json_equal(&result["output"], &expect["output"], &wild, "");
    }
    result["error"] == expect["error"]
}

#[test]
fn dev_corpus_agrees_with_aws_except_listed_cases() {
    let path = corpus();
    let Ok(text) = std::fs::read_to_string(&path) else {
        panic!("conformance corpus not found at {}", path.display());
    };
    let known = known_failures();
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    let mut seen = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("corpus lines are JSON");
        let id = case["id"].as_str().unwrap_or_default().to_string();
        let result = run_case(&case);
        let ok = agrees(&case, &result);
        seen += 1;
        match (ok, known.contains_key(&id)) {
            (false, false) => unexpected.push(format!("{id}: got {result}")),
            (true, true) => now_passing.push(id),
            _ => {}
        }
    }
    assert!(seen > 0, "the corpus is empty");
    assert!(
        unexpected.is_empty() && now_passing.is_empty(),
        "unexpected failures:\n{}\nlisted as failing but now pass (remove them from known_failures.txt):\n{}",
        unexpected.join("\n"),
        now_passing.join("\n")
    );
}
