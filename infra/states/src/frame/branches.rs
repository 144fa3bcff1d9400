//! Parallel and Map states: child frames, concurrency, tolerated failures.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Active, Env, Frame, Shared, Step};
use crate::context::MapItem;
use crate::definition::{QueryLanguage, State, StateMachine, StateType};
use crate::error::{names, Failure, Fault};
use crate::jsonata;
use crate::path::Path;
use crate::payload;
use crate::value::type_name;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Branches {
    pub(super) children: Vec<Child>,
    /// Map only: the iteration machine and the variables each iteration starts with.
    pub(super) processor: Option<Arc<StateMachine>>,
    pub(super) vars: Map<String, Value>,
    pub(super) max_concurrency: usize,
    pub(super) tolerated_count: Option<u64>,
    pub(super) tolerated_percentage: Option<f64>,
    pub(super) failures: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum Child {
    NotStarted(Value),
    Running(Frame),
    Finished(Value),
}

impl Frame {
    pub(super) fn start_parallel(
        &mut self,
        active: &Active,
        st: &State,
        sh: &mut Shared,
    ) -> Result<Step, Fault> {
        let env = self.env(sh, &active.state, active.entered_at);
        let input = if st.language() == QueryLanguage::JSONPath {
            match &st.compiled().parameters {
                Some(p) => env.with_scope(active.effective(), |s| p.render(s))?,
                None => active.effective().clone(),
            }
        } else {
            let states = env.states(&active.raw_input, None);
            match &st.arguments {
                Some(a) => env.render(a, "Arguments", &states)?,
                None => active.raw_input.clone(),
            }
        };
        sh.history.record(sh.now, "ParallelStateStarted", json!({}));
        let children = st
            .branches
            .iter()
            .map(|b| Child::Running(Frame::new(b.clone(), input.clone(), self.vars.clone())))
            .collect();
        Ok(Step::Branches(Box::new(Branches {
            children,
            processor: None,
            vars: Map::new(),
            max_concurrency: 0,
            tolerated_count: None,
            tolerated_percentage: None,
            failures: 0,
        })))
    }

    pub(super) fn start_map(
        &mut self,
        active: &Active,
        st: &State,
        sh: &mut Shared,
    ) -> Result<Step, Fault> {
        let env = self.env(sh, &active.state, active.entered_at);
        let jsonpath = st.language() == QueryLanguage::JSONPath;
        let states = (!jsonpath).then(|| env.states(&active.raw_input, None));
        let items = if jsonpath {
            let items = env.with_scope(active.effective(), |s| {
                payload::select_path(&st.items_path, s)
            })?;
            match items {
                Value::Array(a) => a,
                other => {
                    return Err(Fault::runtime(format!(
                        "Map state input must be an array but was: {other}"
                    )))
                }
            }
        } else {
            let states = states.as_ref().expect("jsonata");
            match &st.items {
                Some(template) => match env.render(template, "Items", states)? {
                    Value::Array(a) => a,
                    other => {
                        let expr = template
                            .as_str()
                            .and_then(jsonata::template_expression)
                            .map(str::trim)
                            .unwrap_or_default();
                        return Err(Fault::query(format!(
                            "The JSONata expression '{expr}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {other}",
                            type_name(&other)
                        )));
                    }
                },
                None => match &active.raw_input {
                    Value::Array(a) => a.clone(),
                    other => {
                        return Err(Fault::query(format!(
                            "Map state input must be an array but was: {other}"
                        )))
                    }
                },
            }
        };
        let max_concurrency = self.map_number(
            &env,
            active,
            states.as_ref(),
            &st.max_concurrency,
            &st.max_concurrency_path,
            "MaxConcurrency",
        )?;
        let tolerated_count = self.map_number(
            &env,
            active,
            states.as_ref(),
            &st.tolerated_failure_count,
            &st.tolerated_failure_count_path,
            "ToleratedFailureCount",
        )?;
        let tolerated_percentage = self.map_number(
            &env,
            active,
            states.as_ref(),
            &st.tolerated_failure_percentage,
            &st.tolerated_failure_percentage_path,
            "ToleratedFailurePercentage",
        )?;
        let selector = if jsonpath {
            st.item_selector.as_ref().or(st.parameters.as_ref())
        } else {
            st.item_selector.as_ref()
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (index, value) in items.into_iter().enumerate() {
            let Some(selector) = selector else {
                inputs.push(value);
                continue;
            };
            let item = MapItem { index, value };
            let mut item_env = self.env(sh, &active.state, active.entered_at);
            item_env.map_item = Some(&item);
            let rendered = if jsonpath {
                item_env.with_scope(active.effective(), |s| payload::render(selector, s))?
            } else {
                let states = item_env.states(&active.raw_input, None);
                item_env.render(selector, "ItemSelector", &states)?
            };
            inputs.push(rendered);
        }
        sh.history
            .record(sh.now, "MapStateStarted", json!({"length": inputs.len()}));
        Ok(Step::Branches(Box::new(Branches {
            children: inputs.into_iter().map(Child::NotStarted).collect(),
            processor: st.processor().cloned(),
            vars: self.vars.clone(),
            max_concurrency: max_concurrency.unwrap_or(0.0) as usize,
            tolerated_count: tolerated_count.map(|c| c as u64),
            tolerated_percentage,
            failures: 0,
        })))
    }

    pub(super) fn map_number(
        &self,
        env: &Env,
        active: &Active,
        states: Option<&Value>,
        fixed: &Option<Value>,
        path: &Option<String>,
        field: &str,
    ) -> Result<Option<f64>, Fault> {
        if let Some(p) = path {
            let v = env.with_scope(active.effective(), |s| Path::parse(p)?.select(s))?;
            let n = match &v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<i64>().ok().map(|n| n as f64),
                _ => None,
            };
            return n.filter(|n| *n >= 0.0).map(Some).ok_or_else(|| {
                let shown = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                Fault::runtime(format!(
                    "The {field}Path field refers to value \"{shown}\" which is not a valid integer: {p}"
                ))
            });
        }
        match (fixed, states) {
            (Some(v), Some(states)) => {
                let v = env.render(v, field, states)?;
                v.as_f64().map(Some).ok_or_else(|| {
                    Fault::query(format!("The {field} field must be a number, got {v}"))
                })
            }
            (Some(v), None) => Ok(v.as_f64()),
            (None, _) => Ok(None),
        }
    }
}

/// Runs the children of a Parallel or Map state; `Some` once the state's outcome is known.
pub(super) fn poll_branches(
    b: &mut Branches,
    kind: StateType,
    sh: &mut Shared,
) -> Option<Result<Value, Failure>> {
    let limit = if b.max_concurrency == 0 {
        usize::MAX
    } else {
        b.max_concurrency
    };
    let total = b.children.len();
    loop {
        let mut progressed = false;
        let mut running = b
            .children
            .iter()
            .filter(|c| matches!(c, Child::Running(_)))
            .count();
        for (index, child) in b.children.iter_mut().enumerate() {
            if let Child::NotStarted(_) = child {
                if running >= limit {
                    break;
                }
                let Child::NotStarted(input) =
                    std::mem::replace(child, Child::Finished(Value::Null))
                else {
                    unreachable!()
                };
                let processor = b.processor.clone().expect("map states have a processor");
                sh.history
                    .record(sh.now, "MapIterationStarted", json!({"index": index}));
                *child = Child::Running(Frame::new(processor, input, b.vars.clone()));
                running += 1;
            }
            let Child::Running(frame) = child else {
                continue;
            };
            frame.run(sh);
            match frame.outcome().cloned() {
                None => {}
                Some(Ok(v)) => {
                    if kind == StateType::Map {
                        sh.history
                            .record(sh.now, "MapIterationSucceeded", json!({"index": index}));
                    }
                    *child = Child::Finished(v);
                    running -= 1;
                    progressed = true;
                }
                Some(Err(f)) => {
                    if kind == StateType::Map {
                        sh.history
                            .record(sh.now, "MapIterationFailed", json!({"index": index}));
                    }
                    b.failures += 1;
                    let tolerated = b.tolerated_count.is_some_and(|c| b.failures <= c)
                        || b.tolerated_percentage
                            .is_some_and(|p| (b.failures as f64) * 100.0 / (total as f64) <= p);
                    if !tolerated {
                        if b.tolerated_count.is_some() || b.tolerated_percentage.is_some() {
                            return Some(Err(Failure::new(
                                names::EXCEED_TOLERATED_FAILURE,
                                "The specified tolerated failure threshold was exceeded",
                            )));
                        }
                        return Some(Err(f));
                    }
                    *child = Child::Finished(f.to_output());
                    running -= 1;
                    progressed = true;
                }
            }
        }
        if !progressed {
            break;
        }
    }
    if b.children.iter().all(|c| matches!(c, Child::Finished(_))) {
        let results = b
            .children
            .drain(..)
            .map(|c| match c {
                Child::Finished(v) => v,
                _ => unreachable!(),
            })
            .collect();
        return Some(Ok(Value::Array(results)));
    }
    None
}
