//! The CloudWatch dashboard and alarms in template.yaml read only metrics
//! the functions emit: every `handoff` metric name they use is one of
//! [`Metric::ALL`], and the figures the operators asked for are all there.

use std::collections::BTreeSet;

use handoff_core::observe::emf::{Metric, NAMESPACE};
use serde_json::Value;

fn template() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    std::fs::read_to_string(path).expect("template.yaml is readable")
}

/// The `DashboardBody: !Sub |` block as JSON, each `${…}` substitution
/// replaced by a placeholder string.
fn dashboard(template: &str) -> Value {
    let start = "      DashboardBody: !Sub |\n";
    let at = template.find(start).expect("template.yaml has a dashboard") + start.len();
    let block: Vec<&str> = template[at..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("        "))
        .collect();
    let mut body = block.join("\n");
    while let Some(open) = body.find("${") {
        let close = open + body[open..].find('}').expect("a closed substitution");
        body.replace_range(open..=close, "SUBSTITUTED");
    }
    serde_json::from_str(&body).expect("the dashboard body is JSON")
}

/// `handoff` metric names in a widget's metrics: `["handoff", Name, …]`
/// rows and `MetricName="Name"` in SEARCH expressions over the namespace.
fn handoff_metrics(dashboard: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut others = BTreeSet::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        for row in widget["properties"]["metrics"].as_array().expect("metrics") {
            let row = row.as_array().expect("a metric row is an array");
            match row.first() {
                Some(Value::String(ns)) if ns == NAMESPACE => {
                    names.insert(row[1].as_str().expect("a name").to_string());
                }
                Some(Value::String(ns)) => {
                    others.insert(format!("{ns}/{}", row[1].as_str().unwrap()));
                }
                Some(Value::Object(o)) => {
                    let expr = o["expression"].as_str().unwrap_or_default();
                    if let Some(search) = expr.split(&format!("{{{NAMESPACE},")).nth(1) {
                        let name = search
                            .split("MetricName=\"")
                            .nth(1)
                            .and_then(|s| s.split('"').next())
                            .expect("a SEARCH names its metric");
                        names.insert(name.to_string());
                    }
                }
                other => panic!("unexpected metric row start {other:?}"),
            }
        }
    }
    (names, others)
}

/// `MetricName` of every alarm whose `Namespace` is `handoff`.
fn alarm_metrics(template: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = template.lines().collect();
    let mut names = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == format!("Namespace: {NAMESPACE}") {
            let name = lines[i + 1]
                .trim()
                .strip_prefix("MetricName: ")
                .expect("MetricName follows Namespace");
            names.insert(name.to_string());
        }
    }
    names
}

fn emitted() -> BTreeSet<String> {
    Metric::ALL.iter().map(|m| m.name().to_string()).collect()
}

fn assert_emitted(names: &BTreeSet<String>) {
    let emitted = emitted();
    let unknown: Vec<_> = names.difference(&emitted).collect();
    assert!(
        unknown.is_empty(),
        "not emitted by any function: {unknown:?}"
    );
}

#[test]
fn the_dashboard_reads_only_metrics_the_functions_emit() {
    let (names, _) = handoff_metrics(&dashboard(&template()));
    assert_emitted(&names);
}

#[test]
fn the_dashboard_shows_runs_outcomes_latency_overrides_autonomy_errors_queues_and_throttles() {
    let (names, others) = handoff_metrics(&dashboard(&template()));
    for wanted in [
        "RunsReceived",
        "RunsCompleted",
        "RunsFailed",
        "AutoResolved",
        "Reviewed",
        "ApprovalLatency",
        "Override",
        "StageErrors",
        "StageDuration",
        "LlmCost",
        "BudgetExhausted",
        "ModelTier",
        "AutonomyErrorBound",
        "AutonomyCoverage",
        "AutonomySamples",
    ] {
        assert!(names.contains(wanted), "{wanted} missing from {names:?}");
    }
    for wanted in [
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
        "AWS/Lambda/Throttles",
        "AWS/Lambda/Errors",
        "AWS/States/ExecutionsFailed",
    ] {
        assert!(others.contains(wanted), "{wanted} missing from {others:?}");
    }
}

#[test]
fn alarms_on_handoff_metrics_name_emitted_metrics() {
    let names = alarm_metrics(&template());
    for wanted in [
        "ApprovalsOverdue",
        "ApprovalsUndelivered",
        "BudgetExhausted",
    ] {
        assert!(names.contains(wanted), "{wanted} missing from {names:?}");
    }
    assert_emitted(&names);
}

#[test]
fn a_misspelt_metric_is_caught() {
    let text = template().replacen(
        "[\"handoff\", \"RunsReceived\"]",
        "[\"handoff\", \"RunsRecieved\"]",
        1,
    );
    let (names, _) = handoff_metrics(&dashboard(&text));
    assert!(names.contains("RunsRecieved"));
    assert!(!emitted().contains("RunsRecieved"));
}
