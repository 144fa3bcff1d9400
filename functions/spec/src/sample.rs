//! A stand-in for a run's data built from what the spec declares, so every
//! template can be rendered at build time with undefined names as errors.

use serde_json::{json, Map, Value};

use crate::model::*;
use crate::task::*;

/// What lookup URLs see: the canonical fields and the run.
pub(crate) fn lookup_data(spec: &WorkflowSpec) -> Value {
    json!({ "run": run(spec), "event": event(spec) })
}

/// What drafts and action templates see: `run`, `event`, `context`, `ai`,
/// `decision`, shaped as the stages produce them.
pub(crate) fn run_data(spec: &WorkflowSpec) -> Value {
    json!({
        "run": run(spec),
        "event": event(spec),
        "context": context(spec),
        "ai": ai(&spec.reason),
        "decision": {
            "rule": "sample",
            "route": "sample",
            "priority": "normal",
            "actions": [],
            "needs_approval": false,
            "reason": "sample",
        },
    })
}

/// Every task answered, shaped as the reason stage stores results.
pub(crate) fn ai(reason: &ReasonSpec) -> Value {
    let mut ai: Map<String, Value> = reason
        .tasks()
        .iter()
        .map(|task| (task.name.clone(), task_result(task)))
        .collect();
    ai.insert("needs_review".into(), json!(false));
    ai.insert("review_reasons".into(), json!([]));
    ai.into()
}

fn task_result(task: &TaskSpec) -> Value {
    match &task.kind {
        TaskKind::Classify(c) => json!({
            "label": c.labels.first().map_or("label", |l| l.name.as_str()),
            "confidence": 0.9,
            "rationale": "sample",
            "tier": EMBEDDED_TIER,
        }),
        TaskKind::Extract(e) => e
            .fields
            .iter()
            .map(|(name, f)| (name.clone(), field_sample(f)))
            .collect::<Map<_, _>>()
            .into(),
        TaskKind::Summarize(_) => {
            json!({ "text": "sample summary", "extractive": false, "tier": EMBEDDED_TIER })
        }
        TaskKind::Draft(_) => json!({ "text": "sample draft", "tier": "template" }),
    }
}

fn field_sample(f: &FieldSchema) -> Value {
    if let Some(first) = f.one_of.as_ref().and_then(|v| v.first()) {
        return first.clone();
    }
    match (f.ty, f.format, f.embedded) {
        (FieldType::Object, _, _) => f
            .properties
            .iter()
            .map(|(name, p)| (name.clone(), field_sample(p)))
            .collect::<Map<_, _>>()
            .into(),
        (FieldType::Array, _, _) => json!([f.items.as_deref().map_or(Value::Null, field_sample)]),
        (FieldType::String, Some(FieldFormat::Email), _) | (_, _, Some(Pattern::Email)) => {
            json!("someone@example.com")
        }
        (FieldType::String, Some(FieldFormat::Date), _) | (_, _, Some(Pattern::Date)) => {
            json!("2026-01-15")
        }
        (FieldType::String, _, Some(_)) => json!("ID-1001"),
        (FieldType::String, _, None) => json!("sample"),
        (FieldType::Number, _, _) => json!(120.0),
        (FieldType::Integer, _, _) => json!(3),
        (FieldType::Boolean, _, _) => json!(true),
    }
}

fn run(spec: &WorkflowSpec) -> Value {
    json!({ "id": "run-sample", "workflow": spec.name })
}

fn event(spec: &WorkflowSpec) -> Value {
    spec.trigger
        .fields
        .keys()
        .map(|k| (k.clone(), Value::String(format!("sample-{k}"))))
        .collect::<Map<_, _>>()
        .into()
}

fn context(spec: &WorkflowSpec) -> Value {
    spec.context
        .lookups
        .iter()
        .map(|lookup| {
            let value = match lookup {
                LookupSpec::PriorRuns { .. } => {
                    json!({ "count": 0, "open_approvals": 0, "recent": [] })
                }
                LookupSpec::Static { table, default, .. } => default
                    .clone()
                    .or_else(|| table.values().next().cloned())
                    .unwrap_or(Value::Null),
                LookupSpec::Http(h) => h
                    .fields
                    .keys()
                    .map(|k| (k.clone(), Value::String(format!("sample-{k}"))))
                    .collect::<Map<_, _>>()
                    .into(),
            };
            (lookup.name().to_string(), value)
        })
        .collect::<Map<_, _>>()
        .into()
}
