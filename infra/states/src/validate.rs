//! Definition checks in the spirit of statelint.
use serde_json::Value;

pub fn validate(_definition: &Value) -> Vec<String> {
    Vec::new()
}
