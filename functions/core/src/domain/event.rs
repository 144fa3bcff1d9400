use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A webhook after verification and normalisation: canonical fields mapped
/// by the spec, plus the payload it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalEvent {
    pub workflow: String,
    pub delivery_id: String,
    pub received_at: DateTime<Utc>,
    /// Canonical name → value (`text`, `sender`, `subject`, …).
    pub fields: BTreeMap<String, serde_json::Value>,
    pub payload: serde_json::Value,
}

impl CanonicalEvent {
    pub fn field_str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.as_str())
    }

    /// The text the AI step reads.
    pub fn text(&self) -> String {
        let subject = self.field_str("subject").unwrap_or_default();
        let text = self.field_str("text").unwrap_or_default();
        match (subject.is_empty(), text.is_empty()) {
            (false, false) => format!("{subject}\n{text}"),
            (false, true) => subject.to_string(),
            _ => text.to_string(),
        }
    }
}

/// The message the queue carries from intake to the starter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMessage {
    pub run_id: crate::domain::RunId,
    pub workflow: String,
}

impl RunMessage {
    pub fn of(run: &crate::domain::Run) -> Self {
        Self {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
        }
    }
}

/// Remembers a delivery so a sender's retry does not start a second run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupeKey {
    pub workflow: String,
    pub delivery_id: String,
    /// Kept at least as long as senders retry (Stripe: three days).
    pub expires_at: DateTime<Utc>,
}
