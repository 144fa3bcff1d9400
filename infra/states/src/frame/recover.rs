//! What a failed state does next: Retry, then Catch, then fail the frame.

use chrono::Duration;
use serde_json::Value;

use super::env::{jsonata_assign, jsonpath_assign};
use super::{Active, Cursor, Frame, Shared, Step};
use crate::definition::{QueryLanguage, State};
use crate::error::Failure;
use crate::payload;
use crate::retry;

impl Frame {
    /// Retry, then Catch, then fail the frame.
    pub(super) fn recover(
        &mut self,
        active: &mut Active,
        st: &State,
        failure: Failure,
        sh: &mut Shared,
    ) {
        let error = failure.error_name().to_string();
        if let Some(i) = st
            .retry
            .iter()
            .position(|r| retry::matches(&r.error_equals, &error))
        {
            let retrier = &st.retry[i];
            if active.retry_attempts[i] < retry::max_attempts(retrier) {
                let delay = retry::delay_millis(retrier, active.retry_attempts[i]);
                active.retry_attempts[i] += 1;
                active.retry_count += 1;
                active.step = Step::Backoff {
                    until: sh.now + Duration::milliseconds(delay),
                };
                return;
            }
        }
        if let Some(catcher) = st
            .catch
            .iter()
            .find(|c| retry::matches(&c.error_equals, &error))
        {
            let error_output = failure.to_output();
            let env = self.env(sh, &active.state, active.entered_at);
            let caught = if st.language() == QueryLanguage::JSONPath {
                jsonpath_assign(catcher.assign.as_ref(), &env, &error_output).and_then(|assigned| {
                    payload::apply_result_path(
                        &catcher.result_path,
                        &active.raw_input,
                        error_output.clone(),
                    )
                    .map(|out| (out, assigned))
                })
            } else {
                let states = env.states(&active.raw_input, Some(("errorOutput", &error_output)));
                jsonata_assign(catcher.assign.as_ref(), &env, &states).and_then(|assigned| {
                    let out = match &catcher.output {
                        Some(o) => {
                            env.render(&o.clone().unwrap_or(Value::Null), "Output", &states)?
                        }
                        None => error_output.clone(),
                    };
                    Ok((out, assigned))
                })
            };
            match caught {
                Ok((output, assigned)) => {
                    self.apply(assigned);
                    self.leave(
                        &active.state,
                        st,
                        output,
                        None,
                        Some(catcher.next.clone()),
                        sh,
                    );
                }
                Err(fault) => {
                    self.cursor =
                        Cursor::Done(Err(fault.in_state(&active.state, active.entered_event)));
                }
            }
            return;
        }
        self.cursor = Cursor::Done(Err(failure));
    }
}
