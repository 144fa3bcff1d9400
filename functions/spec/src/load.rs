use crate::error::{SpecError, SpecErrors};
use crate::model::WorkflowSpec;

/// Parses one workflow file. Structural errors (a missing field, an unknown
/// action type, a wrong type) come back with the YAML path and line.
pub fn parse_workflow(file: &str, text: &str) -> Result<WorkflowSpec, SpecErrors> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = match e.path().to_string() {
            p if p == "." => String::new(),
            p => p,
        };
        let inner = e.into_inner();
        let message = inner.to_string();
        let message = strip_path(&message, &path);
        let reason = match inner.location() {
            Some(at) => format!("{} (line {})", strip_location(message), at.line()),
            None => message.to_string(),
        };
        SpecErrors(vec![SpecError {
            file: file.to_string(),
            path,
            reason,
        }])
    })
}

/// serde_yaml appends "at line L column C" itself; we print the line once.
fn strip_location(msg: &str) -> &str {
    msg.split(" at line ").next().unwrap_or(msg)
}

/// serde_yaml prefixes the path (or its parent) too; we report it once.
fn strip_path<'a>(msg: &'a str, path: &str) -> &'a str {
    match msg.split_once(": ") {
        Some((prefix, rest)) if !prefix.is_empty() && path.starts_with(prefix) => rest,
        _ => msg,
    }
}
