//! JSONata for states with `"QueryLanguage": "JSONata"`: `{% … %}` templates evaluated with
//! jsonata-rs, plus the functions AWS adds to the language ($partition, $range, $hash, $parse).
mod functions;

use std::collections::HashMap;

use bumpalo::Bump;
use jsonata_rs::JsonAta;
use serde_json::{Map, Value};

use crate::error::Fault;

/// What a JSONata expression can see: `$states` and the variables in scope.
pub struct Bindings<'a> {
    pub states: &'a Value,
    pub vars: &'a Map<String, Value>,
}

/// The expression inside `{% … %}`, if `text` is a JSONata template.
pub fn template_expression(text: &str) -> Option<&str> {
    text.strip_prefix("{%")?.strip_suffix("%}")
}

/// Evaluates every `{% … %}` string inside `value`; everything else is a literal.
pub fn render(value: &Value, field: &str, bindings: &Bindings) -> Result<Value, Fault> {
    match value {
        Value::String(s) => match template_expression(s) {
            Some(expr) => evaluate(expr.trim(), field, bindings),
            None => Ok(value.clone()),
        },
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), render(v, &format!("{field}/{k}"), bindings)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| render(v, &format!("{field}[{i}]"), bindings))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Evaluates one expression; `undefined` and functions are errors, as on AWS.
pub fn evaluate(expr: &str, field: &str, bindings: &Bindings) -> Result<Value, Fault> {
    let quoted = |tail: &str| {
        Fault::query(format!(
            "The JSONata expression '{expr}' specified for the field '{field}' {tail}"
        ))
    };
    match evaluate_raw(expr, bindings) {
        Ok(Outcome::Value(v)) => Ok(v),
        Ok(Outcome::Undefined) => Err(quoted("returned nothing (undefined).")),
        Ok(Outcome::Unsupported) => Err(quoted("returned an unsupported result type.")),
        Err(e) => Err(quoted(&format!("threw an error during evaluation. {e}"))),
    }
}

enum Outcome {
    Value(Value),
    Undefined,
    Unsupported,
}

fn evaluate_raw(expr: &str, bindings: &Bindings) -> Result<Outcome, String> {
    let arena = Bump::new();
    let jsonata = JsonAta::new(expr, &arena).map_err(describe)?;
    functions::register(&jsonata);
    let mut vars: HashMap<&str, &Value> =
        bindings.vars.iter().map(|(k, v)| (k.as_str(), v)).collect();
    vars.insert("states", bindings.states);
    let result = jsonata.evaluate(None, Some(&vars)).map_err(describe)?;
    if result.is_undefined() {
        return Ok(Outcome::Undefined);
    }
    if result.is_function() {
        return Ok(Outcome::Unsupported);
    }
    serde_json::from_str(&result.serialize(false))
        .map(|v| Outcome::Value(functions::integral_numbers(v)))
        .map_err(|e| e.to_string())
}

/// AWS reports JSONata errors as `CODE: message`.
fn describe(e: jsonata_rs::Error) -> String {
    let text = e.to_string();
    let message = text.split_once(": ").map(|(_, m)| m).unwrap_or(&text);
    format!("{}: {message}", e.code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str, states: Value) -> Result<Value, Fault> {
        let vars = Map::new();
        evaluate(
            expr,
            "Output",
            &Bindings {
                states: &states,
                vars: &vars,
            },
        )
    }

    #[test]
    fn reads_state_input_and_keeps_integers_integral() {
        let out = eval(
            "$sum($states.input.xs) + 1",
            json!({"input": {"xs": [1, 2, 3]}}),
        )
        .unwrap();
        assert_eq!(out, json!(7));
        assert!(out.is_i64());
    }

    #[test]
    fn aws_functions_are_available() {
        assert_eq!(
            eval("$partition([1,2,3], 2)", json!({})).unwrap(),
            json!([[1, 2], [3]])
        );
        assert_eq!(
            eval("$range(1, 9, 4)", json!({})).unwrap(),
            json!([1, 5, 9])
        );
        assert_eq!(
            eval("$parse('[1, \"a\"]')", json!({})).unwrap(),
            json!([1, "a"])
        );
    }

    #[test]
    fn undefined_results_are_query_errors() {
        let err = eval("$nothing", json!({})).unwrap_err();
        assert!(
            err.message.contains("returned nothing (undefined)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn only_whole_templates_are_evaluated() {
        let vars = Map::new();
        let b = Bindings {
            states: &json!({}),
            vars: &vars,
        };
        let out = render(&json!({"a": " {% 1 %} ", "b": "{% 1 + 1 %}"}), "Output", &b).unwrap();
        assert_eq!(out, json!({"a": " {% 1 %} ", "b": 2}));
    }
}
