use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::RunId;

/// AI output against what a person decided: the learning layer's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub workflow: String,
    pub run_id: RunId,
    pub at: DateTime<Utc>,
    pub text: String,
    pub predicted_label: String,
    pub confidence: f64,
    pub final_label: String,
    #[serde(default)]
    pub edits: Option<serde_json::Value>,
    /// Only authenticated reviewers' feedback is stored.
    pub reviewer: String,
}
