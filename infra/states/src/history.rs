//! Execution history, with AWS's event type names (`PassStateEntered`, `TaskScheduled`, …).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: String,
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
        kind: impl Into<String>,
        details: Value,
    ) -> u64 {
        self.push(timestamp, kind.into(), details.to_string())
    }

    /// Records `{"name": …, "<key>": <value>}` without copying `value`.
    pub fn record_io(
        &mut self,
        timestamp: DateTime<Utc>,
        kind: impl Into<String>,
        name: Option<&str>,
        key: &str,
        value: &Value,
    ) -> u64 {
        let mut text = String::with_capacity(64);
        text.push('{');
        if let Some(n) = name {
            text.push_str("\"name\":");
            text.push_str(&Value::String(n.to_string()).to_string());
            text.push(',');
        }
        text.push('"');
        text.push_str(key);
        text.push_str("\":");
        text.push_str(&value.to_string());
        text.push('}');
        self.push(timestamp, kind.into(), text)
    }

    fn push(&mut self, timestamp: DateTime<Utc>, kind: String, details: String) -> u64 {
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

    pub fn events(&self) -> &[HistoryEvent] {
        &self.events
    }
}

/// `Pass` + `Entered` → `PassStateEntered`.
pub fn state_event(kind: crate::definition::StateType, suffix: &str) -> String {
    format!("{kind:?}State{suffix}")
}
