//! A stand-in for a run's data built from what the spec declares, so every
//! template can be rendered at build time with undefined names as errors.

use serde_json::{json, Map, Value};

use crate::model::*;

/// What lookup URLs see: the canonical fields and the run.
pub(crate) fn lookup_data(spec: &WorkflowSpec) -> Value {
    json!({ "run": run(spec), "event": event(spec) })
}

/// What drafts and action templates see: `run`, `event`, `context`, `ai`,
/// `decision`, shaped as the stages produce them.
pub(crate) fn run_data(spec: &WorkflowSpec) -> Value {
    let fields: Map<String, Value> = spec
        .reason
        .extract
        .iter()
        .map(|f| (f.name.clone(), extracted(f.kind)))
        .collect();
    let label = spec
        .reason
        .labels
        .first()
        .map_or("label", |l| l.name.as_str());
    json!({
        "run": run(spec),
        "event": event(spec),
        "context": context(spec),
        "ai": {
            "label": label,
            "confidence": 0.9,
            "rationale": "sample",
            "fields": fields,
            "draft": "sample draft",
            "tier": "embedded",
            "needs_review": false,
        },
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

fn extracted(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Money => json!({ "value": 120.0, "currency": "EUR" }),
        FieldKind::Email => json!("someone@example.com"),
        FieldKind::Date => json!("2026-01-15"),
        FieldKind::OrderId | FieldKind::InvoiceId | FieldKind::PoId => json!("ID-1001"),
    }
}
