use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, FunctionContext, JsonAta, Value as JValue};
use serde_json::{Number, Value};

use crate::intrinsics;

/// AWS's JSONata functions that behave like an intrinsic: name, arity and the intrinsic.
const VIA_INTRINSIC: [(&str, usize, &str); 3] = [
    ("partition", 2, "States.ArrayPartition"),
    ("range", 3, "States.ArrayRange"),
    ("hash", 2, "States.Hash"),
];

pub(super) fn register(jsonata: &JsonAta) {
    for (name, arity, _) in VIA_INTRINSIC {
        jsonata.register_function(name, arity, via_intrinsic);
    }
    jsonata.register_function("parse", 1, parse);
}

fn parse<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let text = to_json(args.first().copied());
    let parsed = match text.as_str() {
        Some(s) => serde_json::from_str(s)
            .map_err(|e| jsonata_rs::Error::D3137Error(format!("$parse: {e}")))?,
        None => {
            return Err(jsonata_rs::Error::D3137Error(
                "$parse expects a string".into(),
            ))
        }
    };
    Ok(from_json(ctx.arena, &parsed))
}

/// Calls the intrinsic [`VIA_INTRINSIC`] pairs with the function JSONata called (by the name
/// it was registered under, which the function value keeps however it is called).
fn via_intrinsic<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let (.., name) = VIA_INTRINSIC
        .iter()
        .find(|(function, ..)| *function == ctx.name)
        .expect("registered only under the names in VIA_INTRINSIC");
    let expr_args: Vec<Value> = args.iter().map(|a| to_json(Some(*a))).collect();
    let call = format!(
        "{name}({})",
        expr_args.iter().map(literal).collect::<Vec<_>>().join(", ")
    );
    let vars = serde_json::Map::new();
    let make = || Value::Null;
    let scope = crate::path::Scope::new(&Value::Null, &vars, &make);
    let out = intrinsics::evaluate(&call, &scope)
        .map_err(|f| jsonata_rs::Error::D3137Error(f.message))?;
    Ok(from_json(ctx.arena, &out))
}

/// An intrinsic-call literal for a JSON argument; arrays and objects go through StringToJson.
fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(_) | Value::Object(_) => {
            let text = v.to_string().replace('\\', "\\\\").replace('\'', "\\'");
            format!("States.StringToJson('{text}')")
        }
        other => other.to_string(),
    }
}

fn to_json<'a>(v: Option<&'a JValue<'a>>) -> Value {
    match v {
        Some(v) if !v.is_undefined() => {
            integral_numbers(serde_json::from_str(&v.serialize(false)).unwrap_or(Value::Null))
        }
        _ => Value::Null,
    }
}

fn from_json<'a>(arena: &'a Bump, v: &Value) -> &'a JValue<'a> {
    match v {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(items) => {
            let out = JValue::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for x in items {
                out.push(from_json(arena, x));
            }
            out
        }
        Value::Object(map) => {
            let out = JValue::object_with_capacity(arena, map.len());
            for (k, x) in map {
                out.insert(k, from_json(arena, x));
            }
            out
        }
    }
}

/// JSONata computes in doubles; whole numbers go back to JSON as integers, as on AWS.
pub(super) fn integral_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Value::Number(Number::from(f as i64))
            } else {
                Value::Number(n)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}
