//! Redaction of the fields a workflow spec marks `sensitive: true`, for
//! anything that leaves the run store (logs, audit details, metrics).

use serde_json::Value;

use handoff_spec::Workflow;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The names of the workflow's extracted fields marked sensitive.
pub fn sensitive_fields(workflow: &Workflow) -> Vec<&str> {
    workflow.spec.reason.sensitive_fields()
}

/// A copy of `value` in which every object member named in `sensitive`, at
/// any depth, is replaced by [`REDACTED`]; the key stays so readers can see
/// that a value was there.
pub fn redact(value: &Value, sensitive: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if sensitive.contains(&k.as_str()) {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v, sensitive)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, sensitive)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_members_are_replaced_at_any_depth() {
        let v = json!({
            "email": "ana@example.com",
            "fields": { "email": { "value": "ana@example.com" }, "order_id": "A-1" },
            "items": [{ "email": "b@example.com", "n": 1 }]
        });
        let out = redact(&v, &["email"]);
        assert_eq!(out["email"], REDACTED);
        assert_eq!(out["fields"]["email"], REDACTED);
        assert_eq!(out["fields"]["order_id"], "A-1");
        assert_eq!(out["items"][0]["email"], REDACTED);
        assert_eq!(out["items"][0]["n"], 1);
        assert!(!out.to_string().contains("example.com"));
    }

    #[test]
    fn the_spec_names_which_fields_are_sensitive() {
        let catalog = handoff_workflows::catalog();
        let workflow = catalog.get("support-triage").unwrap();
        assert_eq!(sensitive_fields(workflow), vec!["email"]);
    }
}
