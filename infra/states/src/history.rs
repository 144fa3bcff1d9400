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
    pub details: Value,
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
        let id = self.events.len() as u64 + 1;
        self.events.push(HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp,
            kind: kind.into(),
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
