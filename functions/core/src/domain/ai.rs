use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the AI step concluded, after validation against the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiResult {
    pub label: String,
    /// In [0, 1].
    pub confidence: f64,
    pub rationale: String,
    /// Extracted fields by the spec's names.
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub draft: Option<String>,
    /// Which model tier answered (`embedded`, `bedrock`, …).
    pub tier: String,
    /// True when the answer must not be acted on without a person.
    pub needs_review: bool,
    #[serde(default)]
    pub review_reasons: Vec<String>,
}
