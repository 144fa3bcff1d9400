use std::collections::BTreeMap;

use handoff_spec::TriggerSpec;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("unsupported content type `{0}`; send application/json or application/x-www-form-urlencoded")]
    UnsupportedType(String),
    #[error("malformed body: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("required field `{field}` not found at {path}")]
pub struct MappingError {
    pub field: String,
    pub path: String,
}

fn mime(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Refuses a body we could not read, before any other work is done.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), BodyError> {
    match mime(content_type).as_str() {
        "application/json" | "application/x-www-form-urlencoded" => Ok(()),
        other => Err(BodyError::UnsupportedType(other.to_string())),
    }
}

/// JSON, or a form (Slack slash commands; interactivity sends its JSON in a
/// single `payload` field, which becomes the payload itself).
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Value, BodyError> {
    match mime(content_type).as_str() {
        "application/json" => {
            serde_json::from_slice(body).map_err(|e| BodyError::Malformed(e.to_string()))
        }
        "application/x-www-form-urlencoded" => {
            let text = std::str::from_utf8(body)
                .map_err(|_| BodyError::Malformed("form body is not UTF-8".into()))?;
            let mut fields = serde_json::Map::new();
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s: &str| {
                    urlencoding::decode(&s.replace('+', " "))
                        .map(|c| c.into_owned())
                        .map_err(|_| BodyError::Malformed("bad percent-encoding".into()))
                };
                fields.insert(decode(k)?, Value::String(decode(v)?));
            }
            if let (1, Some(Value::String(inner))) = (fields.len(), fields.get("payload")) {
                return serde_json::from_str(inner)
                    .map_err(|e| BodyError::Malformed(format!("payload field: {e}")));
            }
            Ok(Value::Object(fields))
        }
        other => Err(BodyError::UnsupportedType(other.to_string())),
    }
}

/// Maps the payload to canonical fields by the spec's JSONPaths.
pub fn map_fields(
    trigger: &TriggerSpec,
    payload: &Value,
) -> Result<BTreeMap<String, Value>, MappingError> {
    let mut fields = BTreeMap::new();
    for (name, path) in &trigger.fields {
        let found = super::paths::first(path, payload)
            .filter(|v| !v.is_null())
            .cloned();
        if let Some(value) = found {
            fields.insert(name.clone(), value);
        }
    }
    for name in &trigger.required {
        let present = fields.get(name).is_some_and(|v| v.as_str() != Some(""));
        if !present {
            return Err(MappingError {
                field: name.clone(),
                path: trigger.fields.get(name).cloned().unwrap_or_default(),
            });
        }
    }
    Ok(fields)
}
