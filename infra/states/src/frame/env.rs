//! The values a state's fields are evaluated against, and the variables
//! a state assigns.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::context::{self, ExecutionInfo, MapItem, StateContext};
use crate::error::Fault;
use crate::jsonata::{self, Bindings};
use crate::path::{Path, Scope};
use crate::payload;

/// The values a state's fields are evaluated against.
pub(super) struct Env<'a> {
    pub(super) info: &'a ExecutionInfo,
    pub(super) exec_input: &'a Value,
    pub(super) vars: &'a Map<String, Value>,
    pub(super) name: &'a str,
    pub(super) entered_at: DateTime<Utc>,
    pub(super) retry_count: Option<u32>,
    pub(super) token: Option<&'a str>,
    pub(super) map_item: Option<&'a MapItem>,
}

impl Env<'_> {
    pub(super) fn state_context(&self) -> StateContext<'_> {
        StateContext {
            name: self.name,
            entered_time: self.entered_at,
            retry_count: self.retry_count,
            task_token: self.token,
            map_item: self.map_item,
        }
    }

    pub(super) fn context(&self) -> Value {
        context::build(self.info, self.exec_input, &self.state_context())
    }

    pub(super) fn context_part(&self, name: &str) -> Option<Value> {
        context::part(self.info, self.exec_input, &self.state_context(), name)
    }

    /// OutputPath (and similar) that hands the value back untouched when there is nothing to select.
    pub(super) fn output_path(
        &self,
        path: &Option<Option<String>>,
        pre: Option<&Path>,
        value: Value,
    ) -> Result<Value, Fault> {
        if payload::is_identity(path) {
            return Ok(value);
        }
        self.with_scope(&value, |s| payload::select_path_pre(path, pre, s))
    }

    pub(super) fn input_path<'v>(
        &self,
        path: &Option<Option<String>>,
        pre: Option<&Path>,
        input: &'v Value,
    ) -> Result<Cow<'v, Value>, Fault> {
        if payload::is_identity(path) {
            return Ok(Cow::Borrowed(input));
        }
        self.with_scope(input, |s| payload::select_path_pre(path, pre, s))
            .map(Cow::Owned)
    }

    pub(super) fn with_scope<T>(&self, input: &Value, f: impl FnOnce(&Scope) -> T) -> T {
        let make = || self.context();
        let part = |name: &str| self.context_part(name);
        f(&Scope::new(input, self.vars, &make).with_parts(&part))
    }

    pub(super) fn states(&self, input: &Value, extra: Option<(&str, &Value)>) -> Value {
        let mut states = json!({"input": input, "context": self.context()});
        if let Some((k, v)) = extra {
            states[k] = v.clone();
        }
        states
    }

    pub(super) fn render(
        &self,
        value: &Value,
        field: &str,
        states: &Value,
    ) -> Result<Value, Fault> {
        jsonata::render(
            value,
            field,
            &Bindings {
                states,
                vars: self.vars,
            },
        )
    }

    /// Evaluates the JSONata Condition of a Choice rule.
    pub(super) fn condition(&self, states: &Value) -> impl Fn(&Value) -> Result<Value, Fault> + '_ {
        let states = states.clone();
        move |c: &Value| self.render(c, "Condition", &states)
    }
}

/// Variables assigned by a state, applied once its output is computed.
pub(super) type Assignments = Option<Map<String, Value>>;

pub(super) fn jsonpath_assign(
    assign: Option<&Value>,
    env: &Env,
    input: &Value,
) -> Result<Assignments, Fault> {
    match assign {
        Some(template) => match env.with_scope(input, |s| payload::render(template, s))? {
            Value::Object(map) => Ok(Some(map)),
            _ => Err(Fault::runtime("Assign must be an object")),
        },
        None => Ok(None),
    }
}

pub(super) fn compiled_assign(
    assign: Option<&payload::Template>,
    env: &Env,
    input: &Value,
) -> Result<Assignments, Fault> {
    match assign {
        Some(template) => match env.with_scope(input, |s| template.render(s))? {
            Value::Object(map) => Ok(Some(map)),
            _ => Err(Fault::runtime("Assign must be an object")),
        },
        None => Ok(None),
    }
}

pub(super) fn jsonata_assign(
    assign: Option<&Value>,
    env: &Env,
    states: &Value,
) -> Result<Assignments, Fault> {
    match assign {
        Some(template) => match env.render(template, "Assign", states)? {
            Value::Object(map) => Ok(Some(map)),
            _ => Err(Fault::query("Assign must be an object")),
        },
        None => Ok(None),
    }
}
