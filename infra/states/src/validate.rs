//! Definition checks in the spirit of statelint. Works on the raw JSON so that it can report
//! every problem at once, each naming the state and the field.
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::fmt;

use serde_json::{Map, Value};

use crate::choice::operator_names;
use crate::intrinsics;
use crate::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `State 'A'`, `State 'P' > branch 0 > State 'B'`, or the top level.
    pub location: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, field '{}': {}",
            self.location, self.field, self.message
        )
    }
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
/// The fields [`Validator::paths`] parses as JSONPath paths, in the order it reports them.
const PATH_FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "MaxConcurrencyPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "ErrorPath",
    "CausePath",
];
/// JSONPath-only besides [`PATH_FIELDS`].
const JSONPATH_ONLY: &[&str] = &[
    "Parameters",
    "ResultSelector",
    "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath",
];
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items"];

/// Fields of the states that go on to another.
const TRANSITION: &[&str] = &["Next", "End"];
/// Fields that shape a state's input and output.
const IO: &[&str] = &["InputPath", "OutputPath", "Assign", "Output"];
/// Fields of the states that run work and may retry or catch its failure.
const WORK: &[&str] = &[
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Retry",
    "Catch",
];

/// The fields a state of type `kind` may have besides [`COMMON`], in groups.
fn allowed_fields(kind: &str) -> Option<&'static [&'static [&'static str]]> {
    Some(match kind {
        "Pass" => &[TRANSITION, IO, &["ResultPath", "Parameters", "Result"]],
        "Task" => &[
            TRANSITION,
            IO,
            WORK,
            &["Resource", "Credentials", "Arguments"],
            &["TimeoutSeconds", "TimeoutSecondsPath"],
            &["HeartbeatSeconds", "HeartbeatSecondsPath"],
        ],
        "Choice" => &[IO, &["Choices", "Default"]],
        "Wait" => &[
            TRANSITION,
            IO,
            &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
        ],
        "Succeed" => &[&["InputPath", "OutputPath", "Output"]],
        "Fail" => &[&["Error", "ErrorPath", "Cause", "CausePath"]],
        "Parallel" => &[TRANSITION, IO, WORK, &["Branches", "Arguments"]],
        "Map" => &[
            TRANSITION,
            IO,
            WORK,
            &["ItemsPath", "Items", "ItemSelector", "Label"],
            &["ItemProcessor", "Iterator"],
            &["ItemReader", "ItemBatcher", "ResultWriter"],
            &["MaxConcurrency", "MaxConcurrencyPath"],
            &["ToleratedFailureCount", "ToleratedFailureCountPath"],
            &[
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
            ],
        ],
        _ => return None,
    })
}

/// Every problem in `definition`; empty when it is valid.
pub fn validate(definition: &Value) -> Vec<Problem> {
    let mut v = Validator {
        problems: Vec::new(),
    };
    v.machine(definition, "", "JSONPath");
    v.problems
}

struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn report(&mut self, location: &str, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            location: if location.is_empty() {
                "State machine".into()
            } else {
                location.into()
            },
            field: field.into(),
            message: message.into(),
        });
    }

    fn machine(&mut self, def: &Value, prefix: &str, outer_language: &str) {
        let Some(top) = def.as_object() else {
            self.report(
                prefix,
                "(definition)",
                "a state machine must be a JSON object",
            );
            return;
        };
        let language = match top.get("QueryLanguage") {
            None => outer_language,
            Some(Value::String(l)) if l == "JSONPath" || l == "JSONata" => l.as_str(),
            Some(other) => {
                self.report(
                    prefix,
                    "QueryLanguage",
                    format!("must be \"JSONPath\" or \"JSONata\", not {other}"),
                );
                outer_language
            }
        };
        let states = match top.get("States") {
            Some(Value::Object(s)) if !s.is_empty() => s,
            Some(Value::Object(_)) => {
                self.report(prefix, "States", "must contain at least one state");
                return;
            }
            Some(_) => {
                self.report(prefix, "States", "must be an object of named states");
                return;
            }
            None => {
                self.report(prefix, "States", "is required");
                return;
            }
        };
        let start = match top.get("StartAt") {
            Some(Value::String(s)) => {
                if !states.contains_key(s) {
                    self.report(prefix, "StartAt", format!("'{s}' does not name a state"));
                }
                Some(s.clone())
            }
            Some(_) => {
                self.report(prefix, "StartAt", "must be a string");
                None
            }
            None => {
                self.report(prefix, "StartAt", "is required");
                None
            }
        };
        for (name, state) in states {
            let location = if prefix.is_empty() {
                format!("State '{name}'")
            } else {
                format!("{prefix} > State '{name}'")
            };
            if name.chars().count() > 80 {
                self.report(
                    &location,
                    "(name)",
                    "state names must be at most 80 characters",
                );
            }
            self.state(&location, state, states, language);
        }
        self.reachability(prefix, start.as_deref(), states);
    }

    fn state(
        &mut self,
        at: &str,
        state: &Value,
        states: &Map<String, Value>,
        outer_language: &str,
    ) {
        let Some(obj) = state.as_object() else {
            self.report(at, "(state)", "a state must be a JSON object");
            return;
        };
        let kind = match obj.get("Type") {
            Some(Value::String(k)) => k.as_str(),
            Some(other) => {
                self.report(at, "Type", format!("must be a string, not {other}"));
                return;
            }
            None => {
                self.report(at, "Type", "is required");
                return;
            }
        };
        let Some(allowed) = allowed_fields(kind) else {
            self.report(
                at,
                "Type",
                format!("unknown state type '{kind}' (expected Task, Pass, Choice, Wait, Succeed, Fail, Parallel or Map)"),
            );
            return;
        };
        let language = match obj.get("QueryLanguage").and_then(Value::as_str) {
            Some(l @ ("JSONPath" | "JSONata")) => l,
            Some(other) => {
                self.report(
                    at,
                    "QueryLanguage",
                    format!("must be \"JSONPath\" or \"JSONata\", not \"{other}\""),
                );
                outer_language
            }
            None => outer_language,
        };
        for field in obj.keys() {
            if COMMON.contains(&field.as_str()) {
                continue;
            }
            let field_is = |group: &[&str]| group.contains(&field.as_str());
            if !allowed.iter().any(|group| field_is(group)) {
                self.report(at, field, format!("is not allowed in a {kind} state"));
            } else if language == "JSONata" && (field_is(PATH_FIELDS) || field_is(JSONPATH_ONLY)) {
                self.report(
                    at,
                    field,
                    "is a JSONPath field and cannot be used when QueryLanguage is JSONata",
                );
            } else if language == "JSONPath" && field_is(JSONATA_ONLY) {
                self.report(
                    at,
                    field,
                    "is a JSONata field and needs \"QueryLanguage\": \"JSONata\"",
                );
            }
        }
        self.transition(at, kind, obj, states);
        if language == "JSONPath" {
            self.paths(at, obj);
        }
        match kind {
            "Task" => self.task(at, obj),
            "Choice" => self.choice(at, obj, states, language),
            "Wait" => self.exactly_one(
                at,
                obj,
                &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
            ),
            "Fail" => {
                self.at_most_one(at, obj, &["Error", "ErrorPath"]);
                self.at_most_one(at, obj, &["Cause", "CausePath"]);
            }
            "Parallel" => match obj.get("Branches") {
                Some(Value::Array(branches)) if !branches.is_empty() => {
                    for (i, b) in branches.iter().enumerate() {
                        self.machine(b, &format!("{at} > branch {i}"), language);
                    }
                }
                _ => self.report(
                    at,
                    "Branches",
                    "must be a non-empty array of state machines",
                ),
            },
            "Map" => match (obj.get("ItemProcessor"), obj.get("Iterator")) {
                (Some(_), Some(_)) => {
                    self.report(at, "Iterator", "cannot be used together with ItemProcessor")
                }
                (Some(p), None) | (None, Some(p)) => {
                    self.machine(p, &format!("{at} > ItemProcessor"), language)
                }
                (None, None) => self.report(at, "ItemProcessor", "is required in a Map state"),
            },
            _ => {}
        }
        for field in ["Retry", "Catch"] {
            if let Some(list) = obj.get(field) {
                self.handlers(at, field, list, states);
            }
        }
    }

    fn transition(
        &mut self,
        at: &str,
        kind: &str,
        obj: &Map<String, Value>,
        states: &Map<String, Value>,
    ) {
        if matches!(kind, "Choice" | "Succeed" | "Fail") {
            return;
        }
        let end = obj.get("End");
        match (obj.get("Next"), end) {
            (Some(_), Some(Value::Bool(true))) => {
                self.report(at, "Next", "cannot be combined with \"End\": true")
            }
            (None, None | Some(Value::Bool(false))) => self.report(
                at,
                "Next",
                format!("a {kind} state needs either Next or \"End\": true"),
            ),
            (Some(Value::String(n)), _) if !states.contains_key(n) => {
                self.report(at, "Next", format!("'{n}' does not name a state"))
            }
            (Some(Value::String(_)), _) => {}
            (Some(_), _) => self.report(at, "Next", "must be a string"),
            (None, Some(Value::Bool(true))) => {}
            (None, Some(_)) => self.report(at, "End", "must be a boolean"),
        }
    }

    fn paths(&mut self, at: &str, obj: &Map<String, Value>) {
        for &field in PATH_FIELDS {
            match obj.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::String(p))
                    if intrinsics::is_intrinsic(p)
                        && matches!(field, "ErrorPath" | "CausePath") => {}
                Some(Value::String(p)) => {
                    if let Err(e) = Path::parse(p) {
                        self.report(at, field, e.message);
                    } else if field == "ResultPath" && !p.starts_with('$') {
                        self.report(at, field, "must be a path into the state input");
                    }
                }
                Some(other) => self.report(
                    at,
                    field,
                    format!("must be a path string or null, not {other}"),
                ),
            }
        }
        for field in ["Parameters", "ResultSelector", "ItemSelector", "Assign"] {
            if let Some(template) = obj.get(field) {
                self.template(at, field, template);
            }
        }
    }

    fn template(&mut self, at: &str, field: &str, template: &Value) {
        match template {
            Value::Object(map) => {
                for (k, v) in map {
                    let inner = format!("{field}.{k}");
                    if k.ends_with(".$") {
                        match v {
                            Value::String(expr) if intrinsics::is_intrinsic(expr) => {}
                            Value::String(expr) => {
                                if let Err(e) = Path::parse(expr) {
                                    self.report(at, &inner, e.message);
                                }
                            }
                            other => self.report(
                                at,
                                &inner,
                                format!("a '.$' key needs a path or intrinsic string, not {other}"),
                            ),
                        }
                    } else {
                        self.template(at, &inner, v);
                    }
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.template(at, &format!("{field}[{i}]"), v);
                }
            }
            _ => {}
        }
    }

    fn task(&mut self, at: &str, obj: &Map<String, Value>) {
        match obj.get("Resource") {
            Some(Value::String(r)) if !r.is_empty() => {}
            Some(_) => self.report(at, "Resource", "must be a non-empty string (an ARN)"),
            None => self.report(at, "Resource", "is required in a Task state"),
        }
        self.at_most_one(at, obj, &["TimeoutSeconds", "TimeoutSecondsPath"]);
        self.at_most_one(at, obj, &["HeartbeatSeconds", "HeartbeatSecondsPath"]);
        for field in ["TimeoutSeconds", "HeartbeatSeconds"] {
            if let Some(Value::Number(n)) = obj.get(field) {
                if n.as_u64().is_none_or(|n| n == 0) {
                    self.report(at, field, "must be a positive integer");
                }
            }
        }
        if let (Some(t), Some(h)) = (
            obj.get("TimeoutSeconds").and_then(Value::as_u64),
            obj.get("HeartbeatSeconds").and_then(Value::as_u64),
        ) {
            if h >= t {
                self.report(
                    at,
                    "HeartbeatSeconds",
                    "must be smaller than TimeoutSeconds",
                );
            }
        }
    }

    fn choice(
        &mut self,
        at: &str,
        obj: &Map<String, Value>,
        states: &Map<String, Value>,
        language: &str,
    ) {
        match obj.get("Choices") {
            Some(Value::Array(rules)) if !rules.is_empty() => {
                for (i, rule) in rules.iter().enumerate() {
                    let field = format!("Choices[{i}]");
                    match rule.get("Next") {
                        Some(Value::String(n)) if !states.contains_key(n) => self.report(
                            at,
                            &format!("{field}.Next"),
                            format!("'{n}' does not name a state"),
                        ),
                        Some(Value::String(_)) => {}
                        _ => self.report(
                            at,
                            &format!("{field}.Next"),
                            "every choice rule needs a Next",
                        ),
                    }
                    self.rule(at, &field, rule, language, true);
                }
            }
            _ => self.report(at, "Choices", "must be a non-empty array of rules"),
        }
        if let Some(d) = obj.get("Default") {
            match d.as_str() {
                Some(n) if !states.contains_key(n) => {
                    self.report(at, "Default", format!("'{n}' does not name a state"))
                }
                Some(_) => {}
                None => self.report(at, "Default", "must be a state name"),
            }
        }
    }

    fn rule(&mut self, at: &str, field: &str, rule: &Value, language: &str, top: bool) {
        let Some(obj) = rule.as_object() else {
            self.report(at, field, "a choice rule must be an object");
            return;
        };
        if !top && obj.contains_key("Next") {
            self.report(
                at,
                &format!("{field}.Next"),
                "nested rules inside And / Or / Not cannot have Next",
            );
        }
        if language == "JSONata" {
            if !obj.contains_key("Condition") {
                self.report(
                    at,
                    &format!("{field}.Condition"),
                    "JSONata choice rules need a Condition",
                );
            }
            return;
        }
        if obj.contains_key("Condition") {
            self.report(
                at,
                &format!("{field}.Condition"),
                "Condition needs \"QueryLanguage\": \"JSONata\"",
            );
            return;
        }
        for combinator in ["And", "Or"] {
            if let Some(list) = obj.get(combinator) {
                match list.as_array() {
                    Some(rules) if !rules.is_empty() => {
                        for (i, r) in rules.iter().enumerate() {
                            self.rule(
                                at,
                                &format!("{field}.{combinator}[{i}]"),
                                r,
                                language,
                                false,
                            );
                        }
                    }
                    _ => self.report(
                        at,
                        &format!("{field}.{combinator}"),
                        "must be a non-empty array of rules",
                    ),
                }
                return;
            }
        }
        if let Some(inner) = obj.get("Not") {
            self.rule(at, &format!("{field}.Not"), inner, language, false);
            return;
        }
        match obj.get("Variable") {
            Some(Value::String(p)) => {
                if let Err(e) = Path::parse(p) {
                    self.report(at, &format!("{field}.Variable"), e.message);
                }
            }
            _ => self.report(
                at,
                &format!("{field}.Variable"),
                "a comparison needs a Variable path",
            ),
        }
        let operators: BTreeSet<String> = operator_names().collect();
        let used: Vec<&String> = obj.keys().filter(|k| operators.contains(*k)).collect();
        let known = ["Variable", "Next", "Assign", "Output", "Comment"];
        for key in obj.keys() {
            if !operators.contains(key) && !known.contains(&key.as_str()) {
                self.report(
                    at,
                    &format!("{field}.{key}"),
                    "is not a comparison operator",
                );
            }
        }
        match used.len() {
            0 => self.report(
                at,
                field,
                "a comparison needs exactly one operator (StringEquals, IsPresent, …)",
            ),
            1 => {
                let op = used[0];
                let value = &obj[op];
                let ok = if op.ends_with("Path") {
                    value.as_str().is_some_and(|p| Path::parse(p).is_ok())
                } else if op.starts_with("Is") || op == "BooleanEquals" {
                    value.is_boolean()
                } else if op.starts_with("Numeric") {
                    value.is_number()
                } else {
                    value.is_string()
                };
                if !ok {
                    self.report(
                        at,
                        &format!("{field}.{op}"),
                        format!("has a value of the wrong type: {value}"),
                    );
                }
            }
            _ => self.report(at, field, "a comparison can use only one operator"),
        }
    }

    fn handlers(&mut self, at: &str, field: &str, list: &Value, states: &Map<String, Value>) {
        let Some(items) = list.as_array() else {
            self.report(at, field, "must be an array");
            return;
        };
        for (i, h) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let errors: Vec<&str> = h
                .get("ErrorEquals")
                .and_then(Value::as_array)
                .map(|e| e.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if errors.is_empty() {
                self.report(
                    at,
                    &format!("{f}.ErrorEquals"),
                    "must be a non-empty array of error names",
                );
            }
            if errors.contains(&"States.ALL") && (errors.len() > 1 || i + 1 != items.len()) {
                self.report(
                    at,
                    &format!("{f}.ErrorEquals"),
                    "States.ALL must appear alone and in the last entry",
                );
            }
            if field == "Catch" {
                match h.get("Next").and_then(Value::as_str) {
                    Some(n) if !states.contains_key(n) => self.report(
                        at,
                        &format!("{f}.Next"),
                        format!("'{n}' does not name a state"),
                    ),
                    Some(_) => {}
                    None => self.report(at, &format!("{f}.Next"), "every catcher needs a Next"),
                }
            } else {
                if h.get("MaxAttempts").is_some_and(|m| m.as_u64().is_none()) {
                    self.report(
                        at,
                        &format!("{f}.MaxAttempts"),
                        "must be a non-negative integer",
                    );
                }
                if h.get("BackoffRate")
                    .and_then(Value::as_f64)
                    .is_some_and(|r| r < 1.0)
                {
                    self.report(at, &format!("{f}.BackoffRate"), "must be at least 1.0");
                }
                if let Some(j) = h.get("JitterStrategy") {
                    if !matches!(j.as_str(), Some("FULL" | "NONE")) {
                        self.report(
                            at,
                            &format!("{f}.JitterStrategy"),
                            "must be \"FULL\" or \"NONE\"",
                        );
                    }
                }
            }
        }
    }

    fn exactly_one(&mut self, at: &str, obj: &Map<String, Value>, fields: &[&str]) {
        let present: Vec<&&str> = fields.iter().filter(|f| obj.contains_key(**f)).collect();
        if present.len() != 1 {
            self.report(
                at,
                fields[0],
                format!("exactly one of {} is required", fields.join(", ")),
            );
        }
    }

    fn at_most_one(&mut self, at: &str, obj: &Map<String, Value>, fields: &[&str]) {
        if fields.iter().filter(|f| obj.contains_key(**f)).count() > 1 {
            self.report(
                at,
                fields[1],
                format!("cannot be combined with {}", fields[0]),
            );
        }
    }

    /// Unreachable states, and a machine from which no path reaches a terminal state.
    fn reachability(&mut self, prefix: &str, start: Option<&str>, states: &Map<String, Value>) {
        let Some(start) = start.filter(|s| states.contains_key(*s)) else {
            return;
        };
        let mut seen: HashSet<&str> = HashSet::new();
        let mut queue = VecDeque::from([start]);
        let mut terminal = false;
        while let Some(name) = queue.pop_front() {
            if !seen.insert(name) {
                continue;
            }
            let state = &states[name];
            let kind = state.get("Type").and_then(Value::as_str).unwrap_or("");
            if matches!(kind, "Succeed" | "Fail") || state.get("End") == Some(&Value::Bool(true)) {
                terminal = true;
            }
            for next in successors(state) {
                if states.contains_key(next) {
                    queue.push_back(next);
                }
            }
        }
        for name in states.keys() {
            if !seen.contains(name.as_str()) {
                let location = if prefix.is_empty() {
                    format!("State '{name}'")
                } else {
                    format!("{prefix} > State '{name}'")
                };
                self.report(&location, "(reachability)", "is not reachable from StartAt");
            }
        }
        if !terminal {
            self.report(
                prefix,
                "States",
                "no terminal state (End, Succeed or Fail) is reachable from StartAt",
            );
        }
    }
}

fn successors(state: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(n) = state.get(key).and_then(Value::as_str) {
            out.push(n);
        }
    }
    for key in ["Choices", "Catch"] {
        for item in state
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = item.get("Next").and_then(Value::as_str) {
                out.push(n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pass_end() -> Value {
        json!({"Type": "Pass", "End": true})
    }

    /// Each broken definition, the field the problem must name, and a word of its message.
    fn broken() -> Vec<(&'static str, Value, &'static str, &'static str)> {
        vec![
            (
                "missing StartAt",
                json!({"States": {"A": pass_end()}}),
                "StartAt",
                "required",
            ),
            (
                "StartAt names nothing",
                json!({"StartAt": "B", "States": {"A": pass_end()}}),
                "StartAt",
                "does not name",
            ),
            (
                "no states",
                json!({"StartAt": "A", "States": {}}),
                "States",
                "at least one",
            ),
            (
                "unknown type",
                json!({"StartAt": "A", "States": {"A": {"Type": "Sleep", "End": true}}}),
                "Type",
                "unknown state type",
            ),
            (
                "missing type",
                json!({"StartAt": "A", "States": {"A": {"End": true}}}),
                "Type",
                "required",
            ),
            (
                "dangling Next",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}}),
                "Next",
                "'Z' does not name",
            ),
            (
                "missing Next",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}, "B": pass_end()}}),
                "Next",
                "either Next",
            ),
            (
                "Next and End",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B", "End": true}, "B": pass_end()}}),
                "Next",
                "cannot be combined",
            ),
            (
                "unreachable state",
                json!({"StartAt": "A", "States": {"A": pass_end(), "B": pass_end()}}),
                "(reachability)",
                "not reachable",
            ),
            (
                "no terminal state",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}),
                "States",
                "no terminal state",
            ),
            (
                "field of another type",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Resource": "arn:x", "End": true}}}),
                "Resource",
                "not allowed in a Pass",
            ),
            (
                "task without resource",
                json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
                "Resource",
                "required",
            ),
            (
                "choice without rules",
                json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}),
                "Choices",
                "non-empty",
            ),
            (
                "choice rule without Next",
                json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true}], "Default": "B"}, "B": pass_end()}}),
                "Choices[0].Next",
                "needs a Next",
            ),
            (
                "unknown comparison",
                json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringIs": "a", "Next": "B"}]}, "B": pass_end()}}),
                "Choices[0].StringIs",
                "not a comparison operator",
            ),
            (
                "dangling Default",
                json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "B"}], "Default": "Q"}, "B": pass_end()}}),
                "Default",
                "'Q' does not name",
            ),
            (
                "wait with two durations",
                json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Timestamp": "2020-01-01T00:00:00Z", "End": true}}}),
                "Seconds",
                "exactly one",
            ),
            (
                "fail with Error and ErrorPath",
                json!({"StartAt": "A", "States": {"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}),
                "ErrorPath",
                "cannot be combined",
            ),
            (
                "States.ALL not last",
                json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": true, "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}}),
                "Retry[0].ErrorEquals",
                "States.ALL",
            ),
            (
                "dangling Catch Next",
                json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "End": true, "Catch": [{"ErrorEquals": ["X"], "Next": "Nope"}]}}}),
                "Catch[0].Next",
                "'Nope' does not name",
            ),
            (
                "bad InputPath",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "input.a", "End": true}}}),
                "InputPath",
                "starts with '$'",
            ),
            (
                "parallel without branches",
                json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true}}}),
                "Branches",
                "non-empty",
            ),
            (
                "map without processor",
                json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true}}}),
                "ItemProcessor",
                "required",
            ),
            (
                "broken branch",
                json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass"}}}]}}}),
                "Next",
                "either Next",
            ),
            (
                "JSONPath field in a JSONata state",
                json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.a", "End": true}}}),
                "InputPath",
                "JSONPath field",
            ),
            (
                "JSONata field in a JSONPath state",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {}, "End": true}}}),
                "Output",
                "JSONata field",
            ),
            (
                "heartbeat not below timeout",
                json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:x", "TimeoutSeconds": 5, "HeartbeatSeconds": 5, "End": true}}}),
                "HeartbeatSeconds",
                "smaller",
            ),
            (
                "bad .$ value",
                json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": 3}, "End": true}}}),
                "Parameters.x.$",
                "path or intrinsic",
            ),
        ]
    }

    #[test]
    fn broken_definitions_are_rejected_with_the_state_and_field_named() {
        for (kind, def, field, words) in broken() {
            let problems = validate(&def);
            assert!(
                problems
                    .iter()
                    .any(|p| p.field == field && p.message.contains(words)),
                "{kind}: expected a problem on '{field}' mentioning '{words}', got {problems:#?}"
            );
            let shown = problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                shown.contains(field),
                "{kind}: message must name the field: {shown}"
            );
        }
    }

    #[test]
    fn problems_inside_branches_name_the_enclosing_state() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}}]}}});
        let shown: Vec<String> = validate(&def).iter().map(ToString::to_string).collect();
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("State 'P' > branch 0 > State 'X', field 'Next'")),
            "{shown:?}"
        );
    }

    #[test]
    fn a_well_formed_definition_has_no_problems() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "C",
                  "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 2, "JitterStrategy": "FULL"}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
            "C": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.a", "IsPresent": true},
                  {"Not": {"Variable": "$.a", "StringEquals": "x"}}], "Next": "S"}], "Default": "F"},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E"}}});
        assert_eq!(validate(&def), vec![]);
    }
}
