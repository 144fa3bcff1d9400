//! The extract tasks' fields on the approval page: shown beside the
//! document, corrected by the reviewer, and sent with the vote as
//! `{"fields": {"<task>": {"<field>": value}}}`. Actions then use the
//! corrected values, and the correction is the extract task's feedback.

use serde_json::{Map, Value};

use handoff_spec::{FieldSchema, FieldType, TaskKind, Workflow};

use super::Refusal;
use crate::domain::AiResult;
use crate::pages::approval::{field_text, FieldView};

/// Every field each extract task declares, filled with what it found.
pub(super) fn field_views(workflow: &Workflow, ai: Option<&AiResult>) -> Vec<FieldView> {
    let mut views = Vec::new();
    for task in workflow.spec.reason.tasks() {
        let TaskKind::Extract(extract) = &task.kind else {
            continue;
        };
        let found = ai.and_then(|ai| ai.outputs.get(&task.name));
        for (name, schema) in &extract.fields {
            let value = found.and_then(|f| f.get(name)).filter(|v| !v.is_null());
            views.push(FieldView {
                task: task.name.clone(),
                name: name.clone(),
                value: value.map(field_text).unwrap_or_default(),
                structured: matches!(schema.ty, FieldType::Object | FieldType::Array),
                description: schema.description.clone(),
            });
        }
    }
    views
}

/// What the reviewer submitted for the fields: from a form, each value as
/// typed (`field.<task>.<field>`); from JSON, values as they are.
#[derive(Debug, Default)]
pub(super) struct SubmittedFields {
    pub values: Vec<(String, String, Value)>,
    pub typed_as_text: bool,
}

/// `{"<task>": {"<field>": value}}` for the fields the reviewer changed,
/// each checked against its schema; `None` when nothing changed. An
/// emptied field is `null`: the document does not state it.
pub(super) fn field_edits(
    workflow: &Workflow,
    ai: Option<&AiResult>,
    submitted: &SubmittedFields,
) -> Result<Option<Value>, Refusal> {
    let mut edits: Map<String, Value> = Map::new();
    for (task_name, field, given) in &submitted.values {
        let schema = field_schema(workflow, task_name, field).ok_or_else(|| {
            Refusal::MalformedForm(format!("`{task_name}.{field}` is not an extracted field"))
        })?;
        let value = if submitted.typed_as_text {
            from_text(schema, given.as_str().unwrap_or_default())
                .map_err(|why| Refusal::MalformedForm(format!("`{task_name}.{field}` {why}")))?
        } else {
            given.clone()
        };
        let original = ai
            .and_then(|ai| ai.outputs.get(task_name))
            .and_then(|o| o.get(field))
            .cloned()
            .unwrap_or(Value::Null);
        if same(&original, &value) {
            continue;
        }
        if !value.is_null() {
            check(schema, &value)
                .map_err(|why| Refusal::MalformedForm(format!("`{task_name}.{field}` {why}")))?;
        }
        edits
            .entry(task_name.clone())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("inserted as an object")
            .insert(field.clone(), value);
    }
    Ok((!edits.is_empty()).then_some(Value::Object(edits)))
}

fn field_schema<'w>(workflow: &'w Workflow, task: &str, field: &str) -> Option<&'w FieldSchema> {
    workflow
        .spec
        .reason
        .tasks()
        .iter()
        .find_map(|t| match &t.kind {
            TaskKind::Extract(e) if t.name == task => e.fields.get(field),
            _ => None,
        })
}

/// A form's text as the field's type: a string as typed, anything else as
/// JSON (`1250.00`, `true`, `{"value": 10, "currency": "EUR"}`).
fn from_text(schema: &FieldSchema, text: &str) -> Result<Value, String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Null);
    }
    match schema.ty {
        FieldType::String => Ok(Value::String(text.to_string())),
        _ => serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}")),
    }
}

fn check(schema: &FieldSchema, value: &Value) -> Result<(), String> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema.json_schema())
        .map_err(|e| format!("has a schema that cannot be checked: {e}"))?;
    let first_error = validator.iter_errors(value).next().map(|e| e.to_string());
    match first_error {
        None => Ok(()),
        Some(error) => Err(format!("does not fit its schema: {error}")),
    }
}

/// Equal as JSON, numbers compared by value: `1250` is `1250.0`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
