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

/// A payload template compiled once per state: `.$` paths parsed ahead, subtrees without any
/// `.$` key kept whole. Rendering gives exactly what [`render`] gives for the source template.
#[derive(Debug, Clone)]
pub enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// A `.$` value; `path` is set when it is a path that parses (anything else is evaluated
    /// as [`expression`] does, errors included).
    Expr {
        field: String,
        expr: String,
        path: Option<Box<Path>>,
    },
}

impl Template {
    pub fn compile(template: &Value) -> Template {
        if !is_dynamic(template) {
            return Template::Literal(template.clone());
        }
        match template {
            Value::Object(map) => Template::Object(
                map.iter()
                    .map(|(key, value)| match (key.strip_suffix(".$"), value) {
                        (Some(name), Value::String(expr)) => (
                            name.to_string(),
                            Template::Expr {
                                field: key.clone(),
                                expr: expr.clone(),
                                path: (!intrinsics::is_intrinsic(expr))
                                    .then(|| Path::compile(expr).ok().map(Box::new))
                                    .flatten(),
                            },
                        ),
                        _ => (key.clone(), Template::compile(value)),
                    })
                    .collect(),
            ),
            Value::Array(items) => Template::Array(items.iter().map(Template::compile).collect()),
            other => Template::Literal(other.clone()),
        }
    }

    pub fn render(&self, scope: &Scope) -> Result<Value, Fault> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(entries) => {
                let mut out = Map::new();
                for (key, value) in entries {
                    out.insert(key.clone(), value.render(scope)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|v| v.render(scope))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Expr {
                field,
                expr,
                path: Some(path),
            } => path_expression(field, expr, path, scope),
            Template::Expr {
                field,
                expr,
                path: None,
            } => expression(field, expr, scope),
        }
    }
}

/// True when rendering could give anything other than the template itself.
fn is_dynamic(template: &Value) -> bool {
    match template {
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| (key.ends_with(".$") && value.is_string()) || is_dynamic(value)),
        Value::Array(items) => items.iter().any(is_dynamic),
        _ => false,
    }
}

/// One `.$` value: an intrinsic function call or a path.
pub fn expression(field: &str, expr: &str, scope: &Scope) -> Result<Value, Fault> {
    if intrinsics::is_intrinsic(expr) {
        return intrinsics::evaluate(expr, scope);
    }
    path_expression(field, expr, &*Path::parse(expr)?, scope)
}

fn path_expression(field: &str, expr: &str, path: &Path, scope: &Scope) -> Result<Value, Fault> {
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

/// [`select_path`] with the path compiled ahead (`pre`, when it is a plain path that parses).
pub fn select_path_pre(
    path: &Option<Option<String>>,
    pre: Option<&Path>,
    scope: &Scope,
) -> Result<Value, Fault> {
    match pre {
        Some(p) => p.select(scope),
        None => select_path(path, scope),
    }
}

/// The form of an InputPath / OutputPath / ItemsPath / ResultPath worth compiling ahead: a
/// path other than `$` that is not an intrinsic call and parses.
pub fn precompile_path(path: &Option<Option<String>>) -> Option<Path> {
    match path {
        Some(Some(p)) if p != "$" && !intrinsics::is_intrinsic(p) => Path::compile(p).ok(),
        _ => None,
    }
}

/// [`apply_result_path`] with the path compiled ahead.
pub fn apply_result_path_pre(
    result_path: &Option<Option<String>>,
    pre: Option<&Path>,
    raw_input: &Value,
    result: Value,
) -> Result<Value, Fault> {
    match pre {
        Some(p) => p.assign(raw_input.clone(), result),
        None => apply_result_path(result_path, raw_input, result),
    }
}

/// [`merge_result`] with the path compiled ahead.
pub fn merge_result_pre(
    result_path: &Option<Option<String>>,
    pre: Option<&Path>,
    raw_input: Value,
    result: Value,
) -> Result<Value, Fault> {
    match pre {
        Some(p) => p.assign(raw_input, result),
        None => merge_result(result_path, raw_input, result),
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
    fn compiled_templates_render_like_the_source() {
        let input = json!({"a": 1, "b": [1, 2, {"c": "x"}]});
        let vars = Map::new();
        let ctx = || json!({"Task": {"Token": "t"}});
        let part = |name: &str| ctx().get(name).cloned();
        let templates = [
            json!({"x.$": "$.a", "y": {"z.$": "States.Array($.a)"}, "w": "$.a"}),
            json!({"x": 1, "x.$": "$.a", "l": [{"m.$": "$.b[*]"}, 3], "k.$": 5}),
            json!({"t.$": "$$.Task.Token", "n.$": "$$.Nope.X", "d.$": "$..c"}),
            json!({"bad.$": "not a path"}),
            json!({"missing.$": "$.zz"}),
            json!([{"a.$": "$.a"}, "b"]),
            json!("plain"),
        ];
        for t in templates {
            let scope = Scope::new(&input, &vars, &ctx);
            let parts = Scope::new(&input, &vars, &ctx).with_parts(&part);
            let want = render(&t, &scope);
            let got = Template::compile(&t).render(&parts);
            match (want, got) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{t}"),
                (Err(a), Err(b)) => assert_eq!(a, b, "{t}"),
                (a, b) => panic!("{t}: {a:?} vs {b:?}"),
            }
        }
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
