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
    /// Only authenticated reviewers' feedback is stored. One correction
    /// per run and reviewer: a later one replaces it in the store.
    pub reviewer: String,
    /// Whether the correction teaches the AI yet.
    #[serde(default)]
    pub status: FeedbackStatus,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackStatus {
    #[default]
    Confirmed,
    /// The correction would let texts like this one skip an approval the
    /// AI's own label required: it teaches nothing until a second reviewer
    /// of the run gives the same label.
    AwaitingSecondReviewer,
}

impl Feedback {
    /// Whether the AI may learn from this correction (examples, accuracy).
    pub fn teaches(&self) -> bool {
        self.status == FeedbackStatus::Confirmed
    }
}
