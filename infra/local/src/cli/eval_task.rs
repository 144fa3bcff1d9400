//! `handoff eval --task WORKFLOW/TASK --data FILE.jsonl`: one AI task of a
//! workflow through its tiers (or one `--tier`) on labelled examples, with
//! the tokens and cost it took. A classify task is scored on `{text, label}`
//! rows, an extract task on `{text, expected: {…}}` rows per field (or the
//! `fields.<task>` of `handoff dataset export` rows).
//!
//! A row's `documents` (paths from the JSONL's folder) are read as a run
//! reads them (the PDF text layer, else OCR) and their text follows the
//! row's as the reason stage lays it out, so the figures are what a run
//! would see. A document that cannot be read is counted and named in the
//! report, not scored as if it were empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use handoff_core::domain::{sha256_tag, DocumentReading, DocumentRef};
use handoff_core::memory::MemoryDocuments;
use handoff_core::model::Tiers;
use handoff_core::ports::{DocumentStore, NoOcr, Ocr};
use handoff_core::spec::{TaskFailure, TaskKind, TaskSpec, Workflow};
use handoff_core::stages::documents::{text_with_documents, DocumentReader};
use handoff_core::stages::reason::{answer_task, TaskRecord};
use serde_json::{json, Value};

use crate::documents::Tesseract;

/// One labelled example.
struct Row {
    event: Value,
    context: Value,
    expected: Value,
    /// Its documents' files, read when the example is answered.
    documents: Vec<PathBuf>,
}

/// What one example came to.
struct Scored {
    output: Option<Value>,
    record: TaskRecord,
    expected: Value,
    readings: Vec<DocumentReading>,
    ms: f64,
}

/// What reads scanned pages: `--ocr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OcrChoice {
    /// None: a scan counts as unreadable, as on a host without OCR.
    None,
    /// The `tesseract` command, as `handoff up` reads scans.
    Tesseract,
}

impl OcrChoice {
    fn engine(self) -> Arc<dyn Ocr> {
        match self {
            OcrChoice::None => Arc::new(NoOcr),
            OcrChoice::Tesseract => Arc::new(Tesseract::default()),
        }
    }
}

pub struct TaskEval<'a> {
    pub workflow: Arc<Workflow>,
    pub task: &'a str,
    pub data: &'a Path,
    pub tier: Option<&'a str>,
    pub tiers: Tiers,
    pub concurrency: usize,
    pub limit: Option<usize>,
    pub ocr: OcrChoice,
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
            eval.ocr.engine(),
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
    ocr: Arc<dyn Ocr>,
    concurrency: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Scored>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let store = Arc::new(MemoryDocuments::default());
    let mut running = tokio::task::JoinSet::new();
    for (i, mut row) in rows.into_iter().enumerate() {
        let (tiers, workflow, task, gate) =
            (tiers.clone(), workflow.clone(), task.clone(), gate.clone());
        let (store, ocr) = (store.clone(), ocr.clone());
        running.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("the gate stays open");
            let t0 = Instant::now();
            // Read within the example's time: OCR is part of what a run takes.
            let readings = read_documents(&*store, &*ocr, workflow.name(), &row.documents).await?;
            if !readings.is_empty() {
                let body = row.event["text"].as_str().unwrap_or_default();
                row.event["text"] = json!(text_with_documents(body, &readings));
            }
            let (output, record) =
                answer_task(&tiers, &workflow, &task, &row.event, &row.context).await;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            anyhow::Ok((
                i,
                Scored {
                    output,
                    record,
                    expected: row.expected,
                    readings,
                    ms,
                },
            ))
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = running.join_next().await {
        done.push(joined.context("an example's task panicked")??);
        progress.inc(1);
    }
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, s)| s).collect())
}

/// Each file read as the context stage reads a run's document: stored, then
/// read by the one `DocumentReader` both hosts use.
async fn read_documents(
    store: &dyn DocumentStore,
    ocr: &dyn Ocr,
    workflow: &str,
    files: &[PathBuf],
) -> anyhow::Result<Vec<DocumentReading>> {
    let reader = DocumentReader {
        documents: store,
        ocr,
    };
    let mut readings = Vec::with_capacity(files.len());
    for file in files {
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("reading document {}", file.display()))?;
        let doc = DocumentRef {
            sha256: sha256_tag(&bytes),
            name: file.file_name().map(|n| n.to_string_lossy().into_owned()),
            media_type: handoff_documents::sniff(&bytes)
                .map(|m| m.mime())
                .unwrap_or("application/octet-stream")
                .to_string(),
            bytes: bytes.len(),
        };
        store.put(workflow, &doc, &bytes).await?;
        let reading = reader
            .read(workflow, &doc)
            .await
            .map_err(|e| anyhow!("reading document {}: {e}", file.display()))?;
        readings.push(reading);
    }
    Ok(readings)
}

fn read_rows(path: &Path, task: &TaskSpec) -> anyhow::Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // A row's documents are named from the file's own folder.
    let folder = path.parent().unwrap_or(Path::new("."));
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
        let documents = match v.get("documents") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(names)) => names
                .iter()
                .map(|n| {
                    n.as_str()
                        .map(|n| folder.join(n))
                        .ok_or_else(|| anyhow!("{}: `documents` holds paths (strings)", at()))
                })
                .collect::<anyhow::Result<_>>()?,
            Some(_) => bail!("{}: `documents` must be a list of paths", at()),
        };
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
            documents,
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
    if scored.iter().any(|s| !s.readings.is_empty()) {
        report["documents"] = documents_read(scored);
    }
    report
}

/// How the rows' documents read: by reader, and each unreadable one with
/// its row (1-based, in the data's order) and why.
fn documents_read(scored: &[Scored]) -> Value {
    let mut readers: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut confidences = Vec::new();
    let mut count = 0;
    for (i, s) in scored.iter().enumerate() {
        for r in &s.readings {
            count += 1;
            *readers.entry(r.reader.as_str()).or_default() += 1;
            confidences.extend(r.ocr_confidence);
            if let Some(why) = &r.unreadable {
                unreadable.push(json!({ "row": i + 1, "document": r.name, "reason": why }));
            }
        }
    }
    let mean_confidence = (!confidences.is_empty())
        .then(|| confidences.iter().sum::<f64>() / confidences.len() as f64);
    json!({
        "count": count,
        "readers": readers,
        "unreadable": unreadable.len(),
        "unreadable_documents": unreadable,
        "ocr_confidence": mean_confidence,
    })
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
    let documents = &report["documents"];
    if documents.is_object() {
        let confidence = documents["ocr_confidence"]
            .as_f64()
            .map(|c| format!("  OCR confidence {:.2}", c))
            .unwrap_or_default();
        println!(
            "documents {}  read by {}  unreadable {}{confidence}",
            documents["count"], documents["readers"], documents["unreadable"]
        );
        for u in documents["unreadable_documents"]
            .as_array()
            .into_iter()
            .flatten()
        {
            println!(
                "  row {} {}: {}",
                u["row"],
                u["document"].as_str().unwrap_or(""),
                u["reason"].as_str().unwrap_or("")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_fields_match_only_when_every_member_does() {
        let amount = json!({"value": 1213.38, "currency": "GBP"});
        assert!(same(
            &amount,
            &json!({"currency": "gbp ", "value": 1213.38})
        ));
        assert!(!same(
            &amount,
            &json!({"value": 1011.15, "currency": "GBP"})
        ));
        assert!(!same(&amount, &json!({"value": 1213.38})));
        assert!(!same(
            &amount,
            &json!({"value": 1213.38, "currency": "GBP", "note": "x"})
        ));
        let lines = json!([
            {"description": "Support hours", "quantity": 9.5, "total": 826.5},
            {"description": "Binders", "quantity": 1, "total": 22.93},
        ]);
        assert!(same(&lines, &lines.clone()));
        // The same lines in another order, or one missing, are a miss.
        let swapped = json!([lines[1], lines[0]]);
        assert!(!same(&lines, &swapped));
        assert!(!same(&lines, &json!([lines[0]])));
    }
}
