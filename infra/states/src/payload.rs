//! Payload templates of JSONPath states (Parameters, ResultSelector, ItemSelector, Assign):
//! keys ending in `.$` take their value from a path or an intrinsic function.
use serde_json::{Map, Value};

use crate::error::Fault;
use crate::intrinsics;
use crate::path::{Path, Scope};

pub fn render(template: &Value, scope: &Scope) -> Result<Value, Fault> {
    match template {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, value) in map {
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(expr)) => {
                        out.insert(name.to_string(), expression(key, expr, scope)?);
                    }
                    _ => {
                        out.insert(key.clone(), render(value, scope)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| render(v, scope))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// One `.$` value: an intrinsic function call or a path.
pub fn expression(field: &str, expr: &str, scope: &Scope) -> Result<Value, Fault> {
    if intrinsics::is_intrinsic(expr) {
        return intrinsics::evaluate(expr, scope);
    }
    let path = Path::parse(expr)?;
    if path.is_definite() {
        return match path.find(scope)? {
            Some(v) => Ok(v.clone()),
            None => Err(Fault::runtime(format!(
                "The JSONPath '{expr}' specified for the field '{field}' could not be found in the input '{}'",
                match path.root() {
                    crate::path::Root::Context => scope.context().to_string(),
                    _ => scope.input.to_string(),
                }
            ))),
        };
    }
    path.select(scope)
}

/// InputPath / OutputPath / ItemsPath: `null` means an empty object, a path must match.
pub fn select_path(path: &Option<Option<String>>, scope: &Scope) -> Result<Value, Fault> {
    match path {
        None => Ok(scope.input.clone()),
        Some(None) => Ok(Value::Object(Map::new())),
        Some(Some(p)) if p == "$" => Ok(scope.input.clone()),
        Some(Some(p)) => {
            if intrinsics::is_intrinsic(p) {
                return intrinsics::evaluate(p, scope);
            }
            Path::parse(p)?.select(scope)
        }
    }
}

/// ResultPath: where the state's result goes inside its raw input.
pub fn apply_result_path(
    result_path: &Option<Option<String>>,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Fault> {
    match result_path {
        None => Ok(result),
        Some(None) => Ok(raw_input.clone()),
        Some(Some(p)) if p == "$" => Ok(result),
        Some(Some(p)) => Path::parse(p)?.assign(raw_input.clone(), result),
    }
}

/// ResultPath when the raw input is no longer needed afterwards, so it is not copied.
pub fn merge_result(
    result_path: &Option<Option<String>>,
    raw_input: Value,
    result: Value,
) -> Result<Value, Fault> {
    match result_path {
        None => Ok(result),
        Some(None) => Ok(raw_input),
        Some(Some(p)) if p == "$" => Ok(result),
        Some(Some(p)) => Path::parse(p)?.assign(raw_input, result),
    }
}

/// True when the path leaves the value as it is (absent or `$`).
pub fn is_identity(path: &Option<Option<String>>) -> bool {
    match path {
        None => true,
        Some(Some(p)) => p == "$",
        Some(None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dollar_keys_are_resolved_and_others_kept() {
        let input = json!({"a": 1});
        let vars = Map::new();
        let ctx = || json!({});
        let scope = Scope::new(&input, &vars, &ctx);
        let out = render(
            &json!({"x.$": "$.a", "y": {"z.$": "States.Array($.a)"}, "w": "$.a"}),
            &scope,
        )
        .unwrap();
        assert_eq!(out, json!({"x": 1, "y": {"z": [1]}, "w": "$.a"}));
    }

    #[test]
    fn missing_parameter_path_is_a_runtime_error() {
        let input = json!({});
        let vars = Map::new();
        let ctx = || json!({});
        let scope = Scope::new(&input, &vars, &ctx);
        let err = render(&json!({"x.$": "$.a"}), &scope).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }
}
