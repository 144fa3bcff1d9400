//! Choice rules: comparison operators (and their `…Path` forms), `Is*` tests, And / Or / Not,
//! and JSONata `Condition`s.
use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Fault;
use crate::path::{Path, Scope};
use crate::timestamp;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct ChoiceRule {
    raw: Value,
    pub condition: Condition,
    pub next: Option<String>,
    pub assign: Option<Value>,
    pub output: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        variable: String,
        op: Op,
        operand: Operand,
    },
    /// A JSONata `Condition`: a boolean or a `{% … %}` template.
    Jsonata(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringLessThan", Op::StringLessThan),
    ("StringGreaterThan", Op::StringGreaterThan),
    ("StringLessThanEquals", Op::StringLessThanEquals),
    ("StringGreaterThanEquals", Op::StringGreaterThanEquals),
    ("StringMatches", Op::StringMatches),
    ("NumericEquals", Op::NumericEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("BooleanEquals", Op::BooleanEquals),
    ("TimestampEquals", Op::TimestampEquals),
    ("TimestampLessThan", Op::TimestampLessThan),
    ("TimestampGreaterThan", Op::TimestampGreaterThan),
    ("TimestampLessThanEquals", Op::TimestampLessThanEquals),
    ("TimestampGreaterThanEquals", Op::TimestampGreaterThanEquals),
    ("IsNull", Op::IsNull),
    ("IsPresent", Op::IsPresent),
    ("IsNumeric", Op::IsNumeric),
    ("IsString", Op::IsString),
    ("IsBoolean", Op::IsBoolean),
    ("IsTimestamp", Op::IsTimestamp),
];

/// Every operator name a rule may use, `…Path` forms included (the validator lists them).
pub fn operator_names() -> impl Iterator<Item = String> {
    OPS.iter().flat_map(|(name, op)| {
        let mut names = vec![name.to_string()];
        if !op.is_type_test() && *op != Op::StringMatches {
            names.push(format!("{name}Path"));
        }
        names
    })
}

impl Op {
    fn is_type_test(self) -> bool {
        matches!(
            self,
            Op::IsNull
                | Op::IsPresent
                | Op::IsNumeric
                | Op::IsString
                | Op::IsBoolean
                | Op::IsTimestamp
        )
    }
}

impl TryFrom<Value> for ChoiceRule {
    type Error = String;

    fn try_from(raw: Value) -> Result<Self, String> {
        let map = raw.as_object().ok_or("a choice rule must be an object")?;
        Ok(ChoiceRule {
            condition: parse_condition(map)?,
            next: map.get("Next").and_then(Value::as_str).map(str::to_string),
            assign: map.get("Assign").cloned(),
            output: map.get("Output").cloned(),
            raw,
        })
    }
}

impl From<ChoiceRule> for Value {
    fn from(rule: ChoiceRule) -> Value {
        rule.raw
    }
}

pub fn parse_condition(map: &Map<String, Value>) -> Result<Condition, String> {
    if let Some(c) = map.get("Condition") {
        return Ok(Condition::Jsonata(c.clone()));
    }
    let nested = |v: &Value| -> Result<Condition, String> {
        v.as_object()
            .ok_or_else(|| "a nested choice rule must be an object".to_string())
            .and_then(parse_condition)
    };
    for (key, combine) in [("And", Condition::And as fn(_) -> _), ("Or", Condition::Or)] {
        if let Some(v) = map.get(key) {
            let rules = v
                .as_array()
                .ok_or_else(|| format!("{key} must be an array"))?;
            return rules
                .iter()
                .map(nested)
                .collect::<Result<_, _>>()
                .map(combine);
        }
    }
    if let Some(v) = map.get("Not") {
        return Ok(Condition::Not(Box::new(nested(v)?)));
    }
    let variable = map
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or("a choice rule needs a Variable, And, Or, Not or Condition")?
        .to_string();
    for (name, op) in OPS {
        if let Some(v) = map.get(*name) {
            return Ok(Condition::Compare {
                variable,
                op: *op,
                operand: Operand::Literal(v.clone()),
            });
        }
        if let Some(v) = map.get(&format!("{name}Path")) {
            let path = v
                .as_str()
                .ok_or_else(|| format!("{name}Path must be a string"))?;
            return Ok(Condition::Compare {
                variable,
                op: *op,
                operand: Operand::Path(path.to_string()),
            });
        }
    }
    Err(format!(
        "choice rule on '{variable}' has no comparison operator"
    ))
}

impl Condition {
    /// Evaluates a JSONPath rule; `jsonata` evaluates `Condition` templates.
    pub fn evaluate(
        &self,
        scope: &Scope,
        jsonata: &dyn Fn(&Value) -> Result<Value, Fault>,
    ) -> Result<bool, Fault> {
        match self {
            Condition::And(rules) => {
                for r in rules {
                    if !r.evaluate(scope, jsonata)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Condition::Or(rules) => {
                for r in rules {
                    if r.evaluate(scope, jsonata)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Condition::Not(r) => Ok(!r.evaluate(scope, jsonata)?),
            Condition::Jsonata(c) => match jsonata(c)? {
                Value::Bool(b) => Ok(b),
                other => Err(Fault::query(format!(
                    "The Condition field evaluated to {other}, which is not a boolean."
                ))),
            },
            Condition::Compare {
                variable,
                op,
                operand,
            } => compare(variable, *op, operand, scope),
        }
    }
}

fn compare(variable: &str, op: Op, operand: &Operand, scope: &Scope) -> Result<bool, Fault> {
    let path = Path::parse(variable)?;
    let found = if path.is_definite() {
        path.find(scope)?.cloned()
    } else {
        let all = path.select_many(scope)?;
        (!all.is_empty()).then_some(Value::Array(all))
    };
    if op == Op::IsPresent {
        return Ok(found.is_some() == (operand_literal(operand) == Some(&Value::Bool(true))));
    }
    let value = found.ok_or_else(|| {
        Fault::runtime(format!(
            "Invalid path '{variable}': The choice state's condition path references an invalid value."
        ))
    })?;
    let expected = match operand {
        Operand::Literal(v) => v.clone(),
        Operand::Path(p) => {
            let path = Path::parse(p)?;
            path.find(scope)?.cloned().ok_or_else(|| {
                Fault::runtime(format!(
                    "Invalid path '{p}': The choice state's condition path references an invalid value."
                ))
            })?
        }
    };
    if op.is_type_test() {
        let is = match op {
            Op::IsNull => value.is_null(),
            Op::IsNumeric => value.is_number(),
            Op::IsString => value.is_string(),
            Op::IsBoolean => value.is_boolean(),
            Op::IsTimestamp => value.as_str().and_then(timestamp::parse).is_some(),
            _ => unreachable!("handled above"),
        };
        return Ok(Some(is) == expected.as_bool());
    }
    Ok(match op {
        Op::StringEquals => ordered_strings(&value, &expected, |o| o == Ordering::Equal),
        Op::StringLessThan => ordered_strings(&value, &expected, |o| o == Ordering::Less),
        Op::StringGreaterThan => ordered_strings(&value, &expected, |o| o == Ordering::Greater),
        Op::StringLessThanEquals => ordered_strings(&value, &expected, |o| o != Ordering::Greater),
        Op::StringGreaterThanEquals => ordered_strings(&value, &expected, |o| o != Ordering::Less),
        Op::StringMatches => match (value.as_str(), expected.as_str()) {
            (Some(s), Some(p)) => wildcard_match(s, p),
            _ => false,
        },
        Op::NumericEquals => ordered_numbers(&value, &expected, |o| o == Ordering::Equal),
        Op::NumericLessThan => ordered_numbers(&value, &expected, |o| o == Ordering::Less),
        Op::NumericGreaterThan => ordered_numbers(&value, &expected, |o| o == Ordering::Greater),
        Op::NumericLessThanEquals => ordered_numbers(&value, &expected, |o| o != Ordering::Greater),
        Op::NumericGreaterThanEquals => ordered_numbers(&value, &expected, |o| o != Ordering::Less),
        Op::BooleanEquals => value.is_boolean() && value == expected,
        Op::TimestampEquals => ordered_times(&value, &expected, |o| o == Ordering::Equal),
        Op::TimestampLessThan => ordered_times(&value, &expected, |o| o == Ordering::Less),
        Op::TimestampGreaterThan => ordered_times(&value, &expected, |o| o == Ordering::Greater),
        Op::TimestampLessThanEquals => ordered_times(&value, &expected, |o| o != Ordering::Greater),
        Op::TimestampGreaterThanEquals => ordered_times(&value, &expected, |o| o != Ordering::Less),
        _ => unreachable!("type tests handled above"),
    })
}

fn operand_literal(operand: &Operand) -> Option<&Value> {
    match operand {
        Operand::Literal(v) => Some(v),
        Operand::Path(_) => None,
    }
}

fn ordered_strings(a: &Value, b: &Value, test: impl Fn(Ordering) -> bool) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => test(x.cmp(y)),
        _ => false,
    }
}

fn ordered_numbers(a: &Value, b: &Value, test: impl Fn(Ordering) -> bool) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .zip(y.as_f64())
            .and_then(|(x, y)| x.partial_cmp(&y))
            .is_some_and(test),
        _ => false,
    }
}

fn ordered_times(a: &Value, b: &Value, test: impl Fn(Ordering) -> bool) -> bool {
    let parse = |v: &Value| v.as_str().and_then(timestamp::parse);
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => test(x.cmp(&y)),
        _ => false,
    }
}

/// StringMatches: `*` matches any run of characters, `\*` a literal star.
fn wildcard_match(text: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Char(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    toks.push(Tok::Char(n));
                }
            }
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    let (mut t, mut p) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while t < text.len() {
        if p < toks.len() && toks[p] == Tok::Char(text[t]) {
            t += 1;
            p += 1;
        } else if p < toks.len() && toks[p] == Tok::Star {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < toks.len() && toks[p] == Tok::Star {
        p += 1;
    }
    p == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rule: Value, input: Value) -> Result<bool, Fault> {
        let cond = parse_condition(rule.as_object().unwrap()).unwrap();
        let vars = Map::new();
        let ctx = || json!({});
        cond.evaluate(&Scope::new(&input, &vars, &ctx), &|_| Ok(Value::Bool(true)))
    }

    #[test]
    fn type_mismatch_is_false_not_an_error() {
        assert!(!check(
            json!({"Variable": "$.v", "NumericEquals": 1}),
            json!({"v": true})
        )
        .unwrap());
        assert!(!check(
            json!({"Variable": "$.v", "BooleanEquals": true}),
            json!({"v": 1})
        )
        .unwrap());
    }

    #[test]
    fn is_tests_with_false_negate() {
        assert!(check(json!({"Variable": "$.v", "IsNull": false}), json!({"v": 0})).unwrap());
        assert!(!check(
            json!({"Variable": "$.v", "IsPresent": false}),
            json!({"v": null})
        )
        .unwrap());
        assert!(check(
            json!({"Variable": "$.w", "IsPresent": false}),
            json!({"v": 1})
        )
        .unwrap());
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(check(
            json!({"Variable": "$.v", "NumericEqualsPath": "$.w"}),
            json!({"v": 0, "w": 0.0})
        )
        .unwrap());
    }

    #[test]
    fn string_matches_supports_stars_and_escapes() {
        assert!(wildcard_match("log-2024.txt", "log-*.txt"));
        assert!(wildcard_match("a*b", "a\\*b"));
        assert!(!wildcard_match("axb", "a\\*b"));
    }

    #[test]
    fn missing_variable_is_a_runtime_error() {
        assert!(check(json!({"Variable": "$.v", "StringEquals": "x"}), json!({})).is_err());
    }
}
