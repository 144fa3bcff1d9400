//! Execution history, with AWS's event type names (`PassStateEntered`, `TaskScheduled`, …).
use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: DateTime<Utc>,
    /// Static for the engine's own events: one allocation fewer per event.
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    /// The event's details as JSON text: serialising once is much cheaper than keeping a deep
    /// copy of every input and output, and the history is mostly written, rarely read.
    pub details: String,
}

impl HistoryEvent {
    pub fn details(&self) -> Value {
        serde_json::from_str(&self.details).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    events: Vec<HistoryEvent>,
}

impl History {
    pub fn record(
        &mut self,
        timestamp: DateTime<Utc>,
        kind: impl Into<Cow<'static, str>>,
        details: Value,
    ) -> u64 {
        self.push(timestamp, kind.into(), json_text(&details))
    }

    /// Records `{"name": …, "<key>": <value>}` without copying `value`.
    pub fn record_io(
        &mut self,
        timestamp: DateTime<Utc>,
        kind: impl Into<Cow<'static, str>>,
        name: Option<&str>,
        key: &'static str,
        value: &Value,
    ) -> u64 {
        let mut text = String::with_capacity(256);
        open_details(&mut text, name, key);
        json::write_value(&mut text, value);
        text.push('}');
        self.push(timestamp, kind.into(), text)
    }

    /// Like `record_io` with the value already serialised (an output is the next state's input).
    pub fn record_text(
        &mut self,
        timestamp: DateTime<Utc>,
        kind: impl Into<Cow<'static, str>>,
        name: Option<&str>,
        key: &'static str,
        value_json: &str,
    ) -> u64 {
        let mut text = String::with_capacity(value_json.len() + 48);
        open_details(&mut text, name, key);
        text.push_str(value_json);
        text.push('}');
        self.push(timestamp, kind.into(), text)
    }

    /// Records details already in their JSON text form.
    pub fn record_details(
        &mut self,
        timestamp: DateTime<Utc>,
        kind: impl Into<Cow<'static, str>>,
        details: String,
    ) -> u64 {
        self.push(timestamp, kind.into(), details)
    }

    fn push(&mut self, timestamp: DateTime<Utc>, kind: Cow<'static, str>, details: String) -> u64 {
        let id = self.events.len() as u64 + 1;
        self.events.push(HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp,
            kind,
            details,
        });
        id
    }

    /// A history saved event by event, in order.
    pub fn from_events(events: Vec<HistoryEvent>) -> Self {
        Self { events }
    }

    pub fn events(&self) -> &[HistoryEvent] {
        &self.events
    }
}

/// `{"name":<name>,"<key>":` — the start of an input/output event's details.
/// `key` is one of the engine's own field names (`input`, `output`), which
/// need no escaping: written as is, it skips the escape scan of every event.
fn open_details(text: &mut String, name: Option<&str>, key: &'static str) {
    debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
    text.push('{');
    if let Some(n) = name {
        text.push_str("\"name\":");
        json::write_str(text, n);
        text.push(',');
    }
    text.push('"');
    text.push_str(key);
    text.push_str("\":");
}

/// Compact JSON text, exactly as `serde_json::to_string` writes it.
pub fn json_text(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    json::write_value(&mut out, value);
    out
}

/// `Pass` + `Entered` → `PassStateEntered`.
pub fn state_event(kind: crate::definition::StateType, suffix: &str) -> &'static str {
    use crate::definition::StateType::*;
    let entered = suffix == "Entered";
    match kind {
        Task if entered => "TaskStateEntered",
        Task => "TaskStateExited",
        Pass if entered => "PassStateEntered",
        Pass => "PassStateExited",
        Choice if entered => "ChoiceStateEntered",
        Choice => "ChoiceStateExited",
        Wait if entered => "WaitStateEntered",
        Wait => "WaitStateExited",
        Succeed if entered => "SucceedStateEntered",
        Succeed => "SucceedStateExited",
        Fail if entered => "FailStateEntered",
        Fail => "FailStateExited",
        Parallel if entered => "ParallelStateEntered",
        Parallel => "ParallelStateExited",
        Map if entered => "MapStateEntered",
        Map => "MapStateExited",
    }
}
