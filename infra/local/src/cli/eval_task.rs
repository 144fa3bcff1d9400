//! `handoff eval --task WORKFLOW/TASK --data FILE.jsonl`: one AI task of a
//! workflow through its tiers (or one `--tier`) on labelled examples, with
//! the tokens and cost it took. A classify task is scored on `{text, label}`
//! rows, an extract task on `{text, expected: {…}}` rows per field (or the
//! `fields.<task>` of `handoff dataset export` rows).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use handoff_core::model::Tiers;
use handoff_core::spec::{TaskFailure, TaskKind, TaskSpec, Workflow};
use handoff_core::stages::reason::{answer_task, TaskRecord};
use serde_json::{json, Value};

/// One labelled example.
struct Row {
    event: Value,
    context: Value,
    expected: Value,
}

/// What one example came to.
struct Scored {
    output: Option<Value>,
    record: TaskRecord,
    expected: Value,
    ms: f64,
}

pub struct TaskEval<'a> {
    pub workflow: Arc<Workflow>,
    pub task: &'a str,
    pub data: &'a Path,
    pub tier: Option<&'a str>,
    pub tiers: Tiers,
    pub concurrency: usize,
    pub limit: Option<usize>,
    pub json: bool,
}

pub fn run(eval: TaskEval<'_>) -> anyhow::Result<i32> {
    let mut task = eval
        .workflow
        .spec
        .reason
        .task(eval.task)
        .ok_or_else(|| {
            let names: Vec<&str> = eval
                .workflow
                .spec
                .reason
                .tasks()
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            anyhow!(
                "workflow `{}` has no task `{}` (it has {})",
                eval.workflow.name(),
                eval.task,
                names.join(", ")
            )
        })?
        .clone();
    if let Some(tier) = eval.tier {
        if eval.tiers.get(tier).is_none() {
            let known: Vec<&str> = eval.tiers.names().collect();
            bail!(
                "--tier {tier} is not configured here (configured: {}; --llm or --models adds tiers)",
                known.join(", ")
            );
        }
        // One tier alone: its failures count as failures, not fallbacks.
        task.models = vec![tier.to_string()];
        task.on_failure = TaskFailure::Review;
    }
    if matches!(task.kind, TaskKind::Summarize(_) | TaskKind::Draft(_)) {
        bail!(
            "task `{}` is a {} task: eval scores classify and extract tasks",
            task.name,
            task.kind.name()
        );
    }
    let mut rows = read_rows(eval.data, &task)?;
    if let Some(limit) = eval.limit {
        rows.truncate(limit);
    }
    if rows.is_empty() {
        bail!("{}: no examples", eval.data.display());
    }

    let progress = super::eval::bar(eval.json);
    progress.set_length(rows.len() as u64);
    progress.set_message(format!("{}/{}", eval.workflow.name(), task.name));
    let started = Instant::now();
    let scored = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(answer_all(
            eval.tiers.clone(),
            eval.workflow.clone(),
            Arc::new(task.clone()),
            rows,
            eval.concurrency.max(1),
            &progress,
        ))?;
    progress.finish_and_clear();
    let report = report(&task, &scored, started.elapsed().as_secs_f64());
    if eval.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(0)
}

async fn answer_all(
    tiers: Tiers,
    workflow: Arc<Workflow>,
    task: Arc<TaskSpec>,
    rows: Vec<Row>,
    concurrency: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Scored>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut running = tokio::task::JoinSet::new();
    for (i, row) in rows.into_iter().enumerate() {
        let (tiers, workflow, task, gate) =
            (tiers.clone(), workflow.clone(), task.clone(), gate.clone());
        running.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("the gate stays open");
            let t0 = Instant::now();
            let (output, record) =
                answer_task(&tiers, &workflow, &task, &row.event, &row.context).await;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            (
                i,
                Scored {
                    output,
                    record,
                    expected: row.expected,
                    ms,
                },
            )
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = running.join_next().await {
        done.push(joined.context("an example's task panicked")?);
        progress.inc(1);
    }
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, s)| s).collect())
}

fn read_rows(path: &Path, task: &TaskSpec) -> anyhow::Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        let v: Value = serde_json::from_str(line).with_context(|| format!("{}: not JSON", at()))?;
        let text = v["text"]
            .as_str()
            .ok_or_else(|| anyhow!("{}: no `text`", at()))?;
        let mut event = v.get("event").cloned().unwrap_or_else(|| json!({}));
        if !event.is_object() {
            bail!("{}: `event` must be an object of canonical fields", at());
        }
        event["text"] = json!(text);
        let expected = match &task.kind {
            TaskKind::Classify(c) => {
                let label = v["label"]
                    .as_str()
                    .or_else(|| v["expected"]["label"].as_str())
                    .ok_or_else(|| anyhow!("{}: a classify row needs `label`", at()))?;
                if !c.labels.iter().any(|l| l.name == label) {
                    bail!("{}: `{label}` is not a label of task `{}`", at(), task.name);
                }
                json!(label)
            }
            // `handoff dataset export` rows carry every extract task's
            // final fields under `fields.<task>`.
            _ => match v.get("expected").or_else(|| v["fields"].get(&task.name)) {
                Some(e @ Value::Object(_)) => e.clone(),
                _ => bail!(
                    "{}: an extract row needs `expected: {{…}}` (or `fields.{}`)",
                    at(),
                    task.name
                ),
            },
        };
        rows.push(Row {
            event,
            context: v.get("context").cloned().unwrap_or_else(|| json!({})),
            expected,
        });
    }
    Ok(rows)
}

fn report(task: &TaskSpec, scored: &[Scored], seconds: f64) -> Value {
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut input_tokens, mut output_tokens, mut cost) = (0u64, 0u64, 0.0f64);
    for s in scored {
        for call in &s.record.calls {
            *outcomes.entry(call.outcome).or_default() += 1;
            input_tokens += call.usage.input_tokens;
            output_tokens += call.usage.output_tokens;
            cost += call.cost;
        }
    }
    let mut ms: Vec<f64> = scored.iter().map(|s| s.ms).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    let mut report = json!({
        "task": task.name,
        "kind": task.kind.name(),
        "examples": scored.len(),
        "calls": outcomes,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost,
        "latency_ms": { "p50": pct(0.5), "p99": pct(0.99) },
        "seconds": seconds,
    });
    let scores = match task.kind {
        TaskKind::Classify(_) => classify_scores(scored),
        _ => extract_scores(task, scored),
    };
    report
        .as_object_mut()
        .expect("an object")
        .extend(scores.as_object().expect("an object").clone());
    report
}

fn classify_scores(scored: &[Scored]) -> Value {
    let predicted = |s: &Scored| {
        s.output
            .as_ref()
            .and_then(|o| o["label"].as_str())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
    };
    let mut labels: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut correct = 0;
    let mut answered = 0;
    for s in scored {
        let want = s.expected.as_str().unwrap_or_default().to_string();
        let got = predicted(s);
        answered += usize::from(got.is_some());
        labels.entry(want.clone()).or_default().2 += 1;
        if let Some(got) = got {
            let entry = labels.entry(got.clone()).or_default();
            entry.1 += 1;
            if got == want {
                correct += 1;
                labels.get_mut(&want).expect("inserted").0 += 1;
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    json!({
        "answered": answered,
        "accuracy": ratio(correct, scored.len()),
        "per_label": labels.iter().map(|(label, (hit, predicted, support))| json!({
            "label": label,
            "precision": ratio(*hit, *predicted),
            "recall": ratio(*hit, *support),
            "support": support,
        })).collect::<Vec<_>>(),
    })
}

fn extract_scores(task: &TaskSpec, scored: &[Scored]) -> Value {
    let TaskKind::Extract(e) = &task.kind else {
        unreachable!("extract scores are for extract tasks")
    };
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut exact_rows = 0;
    let mut fields = Vec::new();
    let mut per_field: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for s in scored {
        let empty = json!({});
        let got = s.output.as_ref().unwrap_or(&empty);
        let mut row_exact = true;
        for name in e.fields.keys() {
            let (want, have) = (s.expected.get(name), got.get(name));
            let entry = per_field.entry(name).or_default();
            entry.1 += usize::from(have.is_some());
            entry.2 += usize::from(want.is_some());
            match (want, have) {
                (Some(w), Some(h)) if same(w, h) => entry.0 += 1,
                (None, None) => {}
                _ => row_exact = false,
            }
        }
        exact_rows += usize::from(row_exact);
    }
    for (name, (hit, predicted, expected)) in per_field {
        fields.push(json!({
            "field": name,
            "precision": ratio(hit, predicted),
            "recall": ratio(hit, expected),
            "predicted": predicted,
            "expected": expected,
        }));
    }
    json!({ "exact_match": ratio(exact_rows, scored.len()), "fields": fields })
}

/// Equal as a reviewer would read them: text without case or outer space,
/// numbers to a relative 1e-6, objects and lists member by member.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        (Value::Number(_), Value::Number(_)) => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            (x - y).abs() <= 1e-6 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn print(report: &Value) {
    println!(
        "{} ({}): {} examples in {:.1} s",
        report["task"].as_str().unwrap_or(""),
        report["kind"].as_str().unwrap_or(""),
        report["examples"],
        report["seconds"].as_f64().unwrap_or(0.0)
    );
    if let Some(accuracy) = report["accuracy"].as_f64() {
        println!(
            "accuracy {:.2}%  ({} answered)",
            accuracy * 100.0,
            report["answered"]
        );
        println!(
            "{:<28} {:>9} {:>9} {:>8}",
            "label", "precision", "recall", "support"
        );
        for l in report["per_label"].as_array().into_iter().flatten() {
            println!(
                "{:<28} {:>8.2}% {:>8.2}% {:>8}",
                l["label"].as_str().unwrap_or(""),
                l["precision"].as_f64().unwrap_or(0.0) * 100.0,
                l["recall"].as_f64().unwrap_or(0.0) * 100.0,
                l["support"]
            );
        }
    }
    if let Some(exact) = report["exact_match"].as_f64() {
        println!("exact match (every field) {:.2}%", exact * 100.0);
        println!(
            "{:<28} {:>9} {:>9} {:>9} {:>9}",
            "field", "precision", "recall", "predicted", "expected"
        );
        for f in report["fields"].as_array().into_iter().flatten() {
            println!(
                "{:<28} {:>8.2}% {:>8.2}% {:>9} {:>9}",
                f["field"].as_str().unwrap_or(""),
                f["precision"].as_f64().unwrap_or(0.0) * 100.0,
                f["recall"].as_f64().unwrap_or(0.0) * 100.0,
                f["predicted"],
                f["expected"]
            );
        }
    }
    println!(
        "calls {}  tokens in {} out {}  cost {:.6}  latency p50 {:.1} ms p99 {:.1} ms",
        report["calls"],
        report["input_tokens"],
        report["output_tokens"],
        report["cost"].as_f64().unwrap_or(0.0),
        report["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
        report["latency_ms"]["p99"].as_f64().unwrap_or(0.0)
    );
}
