//! The Choice state's rules, in JSONPath and in JSONata.

use serde_json::Value;

use super::Env;
use crate::definition::State;
use crate::error::Fault;

pub(super) fn no_choice(st: &State) -> Fault {
    let _ = st;
    Fault {
        error: "States.NoChoiceMatched",
        message: "No Matches!".into(),
    }
}

pub(super) fn choose<'s>(
    st: &'s State,
    env: &Env,
    effective: &Value,
    states: &Value,
) -> Result<(String, Option<&'s Value>), Fault> {
    let jsonata = env.condition(states);
    for rule in &st.choices {
        let matched = env.with_scope(effective, |s| rule.condition.evaluate(s, &jsonata))?;
        if matched {
            let next = rule.next.clone().unwrap_or_default();
            return Ok((next, rule.assign.as_ref()));
        }
    }
    match &st.default {
        Some(d) => Ok((d.clone(), st.assign.as_ref())),
        None => Err(no_choice(st)),
    }
}

pub(super) type JsonataChoice<'s> = (String, Option<&'s Value>, Option<Value>);

pub(super) fn choose_jsonata<'s>(
    st: &'s State,
    env: &Env,
    states: &Value,
) -> Result<JsonataChoice<'s>, Fault> {
    let jsonata = env.condition(states);
    let input = &states["input"];
    for rule in &st.choices {
        let matched = env.with_scope(input, |s| rule.condition.evaluate(s, &jsonata))?;
        if matched {
            let next = rule.next.clone().unwrap_or_default();
            return Ok((
                next,
                rule.assign.as_ref().or(st.assign.as_ref()),
                rule.output.clone(),
            ));
        }
    }
    match &st.default {
        Some(d) => Ok((d.clone(), st.assign.as_ref(), None)),
        None => Err(no_choice(st)),
    }
}
