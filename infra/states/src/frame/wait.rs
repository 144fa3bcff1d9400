//! Wait states: a fixed time, a timestamp, or either read from the input.

use chrono::Duration;

use super::{positive_integer, Active, Frame, Shared, Step};
use crate::definition::{QueryLanguage, State};
use crate::error::Fault;
use crate::path::Path;
use crate::timestamp;

impl Frame {
    pub(super) fn start_wait(
        &mut self,
        active: &Active,
        st: &State,
        sh: &mut Shared,
    ) -> Result<Step, Fault> {
        let env = self.env(sh, &active.state, active.entered_at);
        let until = if st.language() == QueryLanguage::JSONPath {
            let input = active.effective();
            if let Some(s) = &st.seconds {
                let secs = s
                    .as_f64()
                    .ok_or_else(|| Fault::runtime("Seconds must be a number"))?;
                sh.now + Duration::milliseconds((secs * 1000.0) as i64)
            } else if let Some(p) = &st.seconds_path {
                let v = env.with_scope(input, |s| Path::parse(p)?.select(s))?;
                let secs = positive_integer(&v).ok_or_else(|| {
                    Fault::runtime(format!(
                        "The SecondsPath parameter does not reference a positive integer value: {p} == {v}"
                    ))
                })?;
                sh.now + Duration::seconds(secs)
            } else if let Some(t) = &st.timestamp {
                let text = t.as_str().unwrap_or_default();
                timestamp::parse(text)
                    .ok_or_else(|| Fault::runtime(format!("Invalid Timestamp: {text}")))?
            } else if let Some(p) = &st.timestamp_path {
                let v = env.with_scope(input, |s| Path::parse(p)?.select(s))?;
                v.as_str().and_then(timestamp::parse).ok_or_else(|| {
                    Fault::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                        v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                    ))
                })?
            } else {
                sh.now
            }
        } else {
            let states = env.states(&active.raw_input, None);
            if let Some(s) = &st.seconds {
                let v = env.render(s, "Seconds", &states)?;
                let secs = positive_integer(&v).ok_or_else(|| {
                    Fault::query(format!(
                        "The Seconds field must be a positive integer, got {v}"
                    ))
                })?;
                sh.now + Duration::seconds(secs)
            } else if let Some(t) = &st.timestamp {
                let v = env.render(t, "Timestamp", &states)?;
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                timestamp::parse(&text).ok_or_else(|| {
                    Fault::query(format!(
                        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                    ))
                })?
            } else {
                sh.now
            }
        };
        if until <= sh.now {
            return Ok(Step::Settled(Ok(active.effective().clone())));
        }
        Ok(Step::Wait { until })
    }
}
