use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the AI step concluded, after validation: each task's result by the
/// task's name, exactly what rules and templates read as `ai.<task>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AiResult {
    #[serde(flatten)]
    pub outputs: BTreeMap<String, Value>,
    /// True when the answer must not be acted on without a person.
    pub needs_review: bool,
    #[serde(default)]
    pub review_reasons: Vec<String>,
}

/// A classify task's result, as stored at `ai.<task>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// Empty when no tier gave a valid label.
    pub label: String,
    /// In [0, 1].
    pub confidence: f64,
    #[serde(default)]
    pub rationale: String,
    /// Which model tier answered (`embedded`, a configured LLM name, `none`).
    pub tier: String,
}

/// A summarize or draft task's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    pub text: String,
    pub tier: String,
    /// A summary made of the text's own sentences (the embedded tier).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub extractive: bool,
}

impl AiResult {
    /// A classify task's result, if the task ran.
    pub fn classification(&self, task: &str) -> Option<Classification> {
        self.outputs
            .get(task)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// A summarize or draft task's text, if the task ran.
    pub fn text(&self, task: &str) -> Option<String> {
        self.outputs
            .get(task)
            .and_then(|v| v.get("text"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The primary (first) classify task's result.
    pub fn primary(&self, reason: &handoff_spec::ReasonSpec) -> Option<Classification> {
        self.classification(&reason.primary()?.0.name)
    }

    /// The first draft task's text: what a reviewer may edit.
    pub fn draft(&self, reason: &handoff_spec::ReasonSpec) -> Option<String> {
        self.text(&reason.first_draft()?.name)
    }

    /// The extract tasks' results, in spec order; a skipped task has none.
    pub fn extractions(&self, reason: &handoff_spec::ReasonSpec) -> Vec<&Value> {
        reason
            .tasks()
            .iter()
            .filter(|t| matches!(t.kind, handoff_spec::TaskKind::Extract(_)))
            .filter_map(|t| self.outputs.get(&t.name))
            .collect()
    }

    /// Every result as `ai` for rules and templates.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("AI results serialise")
    }
}

/// A reviewer's corrected fields over an extract task's: an emptied field
/// (`null`) is one the document does not state.
pub fn lay_over(
    fields: &mut serde_json::Map<String, Value>,
    corrected: &serde_json::Map<String, Value>,
) {
    for (name, value) in corrected {
        if value.is_null() {
            fields.remove(name);
        } else {
            fields.insert(name.clone(), value.clone());
        }
    }
}
