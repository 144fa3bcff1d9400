//! Templates (drafts, action bodies, URLs) render with minijinja over the
//! run's data; the names match the CEL rule variables.

use minijinja::Environment;
use serde_json::{json, Value};

use crate::domain::{CanonicalEvent, RunId};
use crate::stages::StageError;

/// What templates see: `run`, `event`, `context`, `ai`, `decision`.
pub fn template_data(
    run: &RunId,
    event: &CanonicalEvent,
    context: &Value,
    ai: &Value,
    decision: &Value,
) -> Value {
    json!({
        "run": { "id": run, "workflow": event.workflow },
        "event": event.fields,
        "context": context,
        "ai": ai,
        "decision": decision,
    })
}

pub fn render(what: &str, source: &str, data: &Value) -> Result<String, StageError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env.render_str(
        source,
        minijinja::Value::from(minijinja::value::Serde(data)),
    )
    .map_err(|e| StageError::Invalid(format!("{what} did not render: {e}")))
}
