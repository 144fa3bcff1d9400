//! Pass, Choice, Succeed and Fail: states that complete as soon as they are entered.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::choose::{choose, choose_jsonata};
use super::env::{compiled_assign, jsonata_assign, jsonpath_assign};
use super::{Cursor, Env, Frame, Shared};
use crate::definition::{QueryLanguage, State, StateType};
use crate::error::{Failure, Fault};
use crate::payload;

impl Frame {
    /// Pass, Choice, Succeed and Fail complete as soon as they are entered.
    pub(super) fn run_instant(
        &mut self,
        name: &str,
        st: &State,
        input: Value,
        input_text: Option<String>,
        entered_at: DateTime<Utc>,
        sh: &mut Shared,
    ) -> Result<(), Fault> {
        let env = self.env(sh, name, entered_at);
        let jsonpath = st.language() == QueryLanguage::JSONPath;
        let compiled = st.compiled();
        let (output, next, assigned) = match st.kind {
            StateType::Fail => {
                let failure = self.fail_state(st, &input, &env)?;
                self.cursor = Cursor::Done(Err(failure));
                return Ok(());
            }
            StateType::Choice if jsonpath => {
                let effective =
                    env.input_path(&st.input_path, compiled.input_path.as_ref(), &input)?;
                let (next, assign) = choose(st, &env, &effective, &Value::Null)?;
                let assigned = jsonpath_assign(assign, &env, &effective)?;
                let effective = match effective {
                    Cow::Borrowed(_) => input,
                    Cow::Owned(v) => v,
                };
                let output =
                    env.output_path(&st.output_path, compiled.output_path.as_ref(), effective)?;
                (output, Some(next), assigned)
            }
            StateType::Choice => {
                let states = env.states(&input, None);
                let (next, assign, rule_output) = choose_jsonata(st, &env, &states)?;
                let assigned = jsonata_assign(assign, &env, &states)?;
                let output = match rule_output
                    .or(st.output.as_ref().map(|o| o.clone().unwrap_or(Value::Null)))
                {
                    Some(o) => env.render(&o, "Output", &states)?,
                    None => input,
                };
                (output, Some(next), assigned)
            }
            StateType::Pass if jsonpath => {
                let effective =
                    env.input_path(&st.input_path, compiled.input_path.as_ref(), &input)?;
                let rendered = match &compiled.parameters {
                    Some(p) => Some(env.with_scope(&effective, |s| p.render(s))?),
                    None => None,
                };
                let result = match (&st.result, rendered) {
                    (Some(r), _) => r.clone().unwrap_or(Value::Null),
                    (None, Some(v)) => v,
                    (None, None) => effective.into_owned(),
                };
                let assigned = compiled_assign(compiled.assign.as_ref(), &env, &result)?;
                let output = payload::merge_result_pre(
                    &st.result_path,
                    compiled.result_path.as_ref(),
                    input,
                    result,
                )?;
                let output =
                    env.output_path(&st.output_path, compiled.output_path.as_ref(), output)?;
                (output, None, assigned)
            }
            _ if jsonpath => {
                let effective =
                    env.input_path(&st.input_path, compiled.input_path.as_ref(), &input)?;
                let effective = match effective {
                    Cow::Borrowed(_) => input,
                    Cow::Owned(v) => v,
                };
                let output =
                    env.output_path(&st.output_path, compiled.output_path.as_ref(), effective)?;
                (output, None, None)
            }
            _ => {
                let states = env.states(&input, None);
                let assigned = jsonata_assign(st.assign.as_ref(), &env, &states)?;
                let output = match &st.output {
                    Some(o) => env.render(&o.clone().unwrap_or(Value::Null), "Output", &states)?,
                    None => input,
                };
                (output, None, assigned)
            }
        };
        self.apply(assigned);
        self.leave(name, st, output, input_text, next, sh);
        Ok(())
    }

    pub(super) fn fail_state(
        &self,
        st: &State,
        input: &Value,
        env: &Env,
    ) -> Result<Failure, Fault> {
        if st.language() == QueryLanguage::JSONata {
            let states = env.states(input, None);
            let text = |field: &str, v: &Option<String>| -> Result<Option<String>, Fault> {
                match v {
                    Some(s) => match env.render(&Value::String(s.clone()), field, &states)? {
                        Value::String(s) => Ok(Some(s)),
                        other => Ok(Some(other.to_string())),
                    },
                    None => Ok(None),
                }
            };
            return Ok(Failure {
                error: text("Error", &st.error)?,
                cause: text("Cause", &st.cause)?,
            });
        }
        let dynamic = |field: &str,
                       path: &Option<String>,
                       fixed: &Option<String>|
         -> Result<Option<String>, Fault> {
            match path {
                Some(p) => {
                    let v = env.with_scope(input, |s| payload::expression(field, p, s))?;
                    match v {
                        Value::String(s) => Ok(Some(s)),
                        other => Err(Fault::runtime(format!(
                            "The {field} field must reference a string, but '{p}' is {other}"
                        ))),
                    }
                }
                None => Ok(fixed.clone()),
            }
        };
        Ok(Failure {
            error: dynamic("ErrorPath", &st.error_path, &st.error)?,
            cause: dynamic("CausePath", &st.cause_path, &st.cause)?,
        })
    }
}
