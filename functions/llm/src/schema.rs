//! A minimal instance of a JSON Schema, for the scripted server's
//! [`Step::Auto`](crate::testing::Step::Auto): an answer that passes the
//! caller's validation without the test writing one out.
//!
//! It covers what task schemas use (types, `enum`/`const`, bounds,
//! `properties`, `items`, local `$ref`s, the first branch of `anyOf`/`oneOf`,
//! `allOf`), not the whole of JSON Schema: `pattern` and `format` beyond a
//! few common ones are not honoured.

use serde_json::{json, Map, Value};

/// `$ref` cycles (a tree of nodes) stop here with `null`.
const MAX_DEPTH: usize = 16;

pub(crate) fn instance(schema: &Value) -> Value {
    Gen { root: schema }.value(schema, 0)
}

struct Gen<'a> {
    root: &'a Value,
}

impl Gen<'_> {
    fn value(&self, schema: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        let Some(obj) = schema.as_object() else {
            // `true` or a non-schema: anything goes.
            return json!("sample");
        };
        if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
            return match self.resolve(target) {
                Some(resolved) => self.value(resolved, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(value) = obj.get("const") {
            return value.clone();
        }
        if let Some(first) = obj
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = obj.get(key).and_then(Value::as_array) {
                let branch = branches
                    .iter()
                    .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                    .or(branches.first());
                if let Some(branch) = branch {
                    return self.value(branch, depth + 1);
                }
            }
        }
        if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for part in parts {
                match self.value(part, depth + 1) {
                    Value::Object(fields) => merged.extend(fields),
                    other if merged.is_empty() => return other,
                    _ => {}
                }
            }
            return Value::Object(merged);
        }
        match type_of(obj) {
            "object" => self.object(obj, depth),
            "array" => self.array(obj, depth),
            "integer" => integer(obj),
            "number" => number(obj),
            "boolean" => json!(true),
            "null" => Value::Null,
            _ => string(obj),
        }
    }

    fn object(&self, obj: &Map<String, Value>, depth: usize) -> Value {
        let mut fields = Map::new();
        if let Some(properties) = obj.get("properties").and_then(Value::as_object) {
            for (name, schema) in properties {
                fields.insert(name.clone(), self.value(schema, depth + 1));
            }
        }
        Value::Object(fields)
    }

    fn array(&self, obj: &Map<String, Value>, depth: usize) -> Value {
        // Draft 2020-12 tuples, then draft-4 tuples, then one item schema.
        let tuple = obj
            .get("prefixItems")
            .or_else(|| obj.get("items").filter(|i| i.is_array()))
            .and_then(Value::as_array);
        if let Some(schemas) = tuple {
            return schemas.iter().map(|s| self.value(s, depth + 1)).collect();
        }
        let item = self.value(obj.get("items").unwrap_or(&Value::Bool(true)), depth + 1);
        let count = bound(obj, "minItems").map_or(1, |n| n.max(1.0) as usize);
        vec![item; count].into()
    }

    /// `#/$defs/X`, `#/definitions/X` or any other pointer into the root.
    fn resolve(&self, target: &str) -> Option<&Value> {
        let pointer = target.strip_prefix('#')?;
        self.root.pointer(pointer)
    }
}

fn type_of(obj: &Map<String, Value>) -> &str {
    match obj.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if obj.contains_key("properties") => "object",
        _ if obj.contains_key("items") || obj.contains_key("prefixItems") => "array",
        _ => "string",
    }
}

fn bound(obj: &Map<String, Value>, key: &str) -> Option<f64> {
    obj.get(key).and_then(Value::as_f64)
}

/// 1, moved into `[minimum, maximum]` (and past exclusive bounds) if it is
/// not already there.
fn number(obj: &Map<String, Value>) -> Value {
    let mut low = bound(obj, "minimum");
    let mut high = bound(obj, "maximum");
    let ex_low = bound(obj, "exclusiveMinimum");
    let ex_high = bound(obj, "exclusiveMaximum");
    if let (Some(l), Some(h)) = (ex_low.or(low), ex_high.or(high)) {
        if ex_low.is_some() || ex_high.is_some() {
            return json!((l + h) / 2.0);
        }
    }
    if let Some(l) = ex_low {
        low = Some(l + 1.0);
    }
    if let Some(h) = ex_high {
        high = Some(h - 1.0);
    }
    let value = 1f64
        .max(low.unwrap_or(f64::MIN))
        .min(high.unwrap_or(f64::MAX));
    if value.fract() == 0.0 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

fn integer(obj: &Map<String, Value>) -> Value {
    let mut low = bound(obj, "minimum").map(f64::ceil);
    let mut high = bound(obj, "maximum").map(f64::floor);
    if let Some(l) = bound(obj, "exclusiveMinimum") {
        low = Some(l.floor() + 1.0);
    }
    if let Some(h) = bound(obj, "exclusiveMaximum") {
        high = Some(h.ceil() - 1.0);
    }
    let value = 1f64
        .max(low.unwrap_or(f64::MIN))
        .min(high.unwrap_or(f64::MAX));
    json!(value as i64)
}

/// "sample", or a value of the common formats, fitted to the length bounds.
fn string(obj: &Map<String, Value>) -> Value {
    let base = match obj.get("format").and_then(Value::as_str) {
        Some("date-time") => "2024-01-01T00:00:00Z",
        Some("date") => "2024-01-01",
        Some("time") => "00:00:00Z",
        Some("email") => "sample@example.com",
        Some("uri" | "url") => "https://example.com/sample",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        _ => "sample",
    };
    let mut text = base.to_string();
    let min = bound(obj, "minLength").map_or(0, |n| n as usize);
    while text.chars().count() < min {
        text.push('x');
    }
    if let Some(max) = bound(obj, "maxLength").map(|n| n as usize) {
        text = text.chars().take(max).collect();
    }
    json!(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_schema_gets_every_property() {
        let schema = json!({
            "type": "object",
            "properties": {
                "label": {"type": "string", "enum": ["billing", "bug"]},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "priority": {"type": "integer", "minimum": 2, "maximum": 5},
                "summary": {"type": "string", "maxLength": 3},
                "code": {"type": "string", "minLength": 8},
                "tags": {"type": "array", "items": {"type": "string"}},
                "customer": {"$ref": "#/$defs/customer"},
                "note": {"type": ["string", "null"]},
                "urgent": {"type": "boolean"},
                "kind": {"const": "ticket"},
            },
            "$defs": {"customer": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}},
        });
        assert_eq!(
            instance(&schema),
            json!({
                "label": "billing",
                "confidence": 1,
                "priority": 2,
                "summary": "sam",
                "code": "samplexx",
                "tags": ["sample"],
                "customer": {"email": "sample@example.com"},
                "note": "sample",
                "urgent": true,
                "kind": "ticket",
            })
        );
    }

    #[test]
    fn bounds_move_the_number_into_range() {
        assert_eq!(
            instance(&json!({"type": "number", "maximum": 0.5})),
            json!(0.5)
        );
        assert_eq!(
            instance(&json!({"type": "integer", "exclusiveMinimum": 3})),
            json!(4)
        );
        assert_eq!(
            instance(&json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1})),
            json!(0.5)
        );
    }

    #[test]
    fn recursive_refs_stop() {
        let schema = json!({
            "type": "object",
            "properties": {"child": {"$ref": "#"}},
        });
        assert!(instance(&schema).is_object());
    }

    #[test]
    fn branches_and_tuples() {
        assert_eq!(
            instance(&json!({"anyOf": [{"type": "null"}, {"type": "integer"}]})),
            json!(1)
        );
        assert_eq!(
            instance(&json!({"type": "array", "prefixItems": [{"type": "boolean"}, {"const": 3}]})),
            json!([true, 3])
        );
        assert_eq!(
            instance(&json!({"allOf": [
                {"properties": {"a": {"type": "integer"}}},
                {"properties": {"b": {"type": "boolean"}}},
            ]})),
            json!({"a": 1, "b": true})
        );
        assert_eq!(
            instance(&json!({"type": "array", "items": {"type": "integer"}, "minItems": 2})),
            json!([1, 1])
        );
    }
}
