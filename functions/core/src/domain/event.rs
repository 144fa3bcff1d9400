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
    /// Documents that came with it, stored apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<super::DocumentRef>,
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

/// Remembers a delivery so a sender's retry does not start a second run,
/// nor a replay of its signed body under a new (unsigned) delivery id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupeKey {
    pub workflow: String,
    pub delivery_id: String,
    /// Kept at least as long as senders retry (Stripe: three days).
    pub expires_at: DateTime<Utc>,
    /// `sha256:<hex>` of the verified body; kept as long as the delivery id.
    #[serde(default)]
    pub body_hash: Option<String>,
    /// The spec's business key for this event, as [`business_key`] built
    /// it; never expires.
    #[serde(default)]
    pub business_key: Option<String>,
}

/// One record a new run claims: taken by an earlier run, the delivery is a
/// duplicate of that run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupeClaim {
    /// Unique within the workflow; bounded (hashes, or a delivery id of at
    /// most [`crate::trigger::MAX_DELIVERY_ID_BYTES`]).
    pub key: String,
    /// `None`: kept forever.
    pub expires_at: Option<DateTime<Utc>>,
}

impl DedupeKey {
    /// The records a new run claims, all or none. The delivery id is kept
    /// as it is (the records already stored use it); the others carry a
    /// prefix a delivery id taken as-is is unlikely to have, and a sender
    /// that picks one anyway only makes its own delivery a duplicate.
    pub fn claims(&self) -> Vec<DedupeClaim> {
        let mut claims = vec![DedupeClaim {
            key: self.delivery_id.clone(),
            expires_at: Some(self.expires_at),
        }];
        if let Some(hash) = &self.body_hash {
            claims.push(DedupeClaim {
                key: format!("body#{hash}"),
                expires_at: Some(self.expires_at),
            });
        }
        if let Some(key) = &self.business_key {
            claims.push(DedupeClaim::business_key(key));
        }
        claims
    }
}

impl DedupeClaim {
    /// The record a business key (as [`business_key`] built it) is claimed
    /// in, kept forever: the same whether ingest or the decide stage
    /// claims it, so the two collide.
    pub fn business_key(key: &str) -> Self {
        Self {
            key: format!("key#{key}"),
            expires_at: None,
        }
    }
}

/// `sha256:<hex>` of `bytes`: how a body, or a key too long to store, is
/// remembered.
pub fn sha256_tag(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The business key of an event: the values of the named canonical fields,
/// hashed so the stored key is bounded whatever the sender put in them.
/// `None` when a field is missing, null or blank: such an event cannot be
/// told apart from another by its key, so it is deduplicated by its
/// delivery id and body only.
pub fn business_key(
    fields: &BTreeMap<String, serde_json::Value>,
    names: &[String],
) -> Option<String> {
    hashed_key(names, |name| fields.get(name).and_then(key_part))
}

/// The business key once the AI step has run: a field the event lacks is
/// taken from the first of `extracted` (the extract tasks' outputs, in spec
/// order) that has it. Hashed as [`business_key`] hashes, so an event that
/// named the values itself and one whose values were extracted have the
/// same key.
pub fn business_key_after_extraction(
    fields: &BTreeMap<String, serde_json::Value>,
    names: &[String],
    extracted: &[&serde_json::Value],
) -> Option<String> {
    hashed_key(names, |name| {
        fields.get(name).and_then(key_part).or_else(|| {
            extracted
                .iter()
                .find_map(|output| output.get(name).and_then(key_part))
        })
    })
}

fn hashed_key(names: &[String], part: impl Fn(&str) -> Option<String>) -> Option<String> {
    let parts = names
        .iter()
        .map(|name| part(name))
        .collect::<Option<Vec<_>>>()?;
    // A JSON array keeps ("a|b", "c") and ("a", "b|c") apart.
    Some(sha256_tag(serde_json::to_string(&parts).ok()?.as_bytes()))
}

/// A scalar as it goes into a key; `None` for null, blank and structures.
fn key_part(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names() -> Vec<String> {
        vec!["invoice_id".into(), "supplier".into()]
    }

    #[test]
    fn a_key_typed_out_and_the_same_key_extracted_coincide() {
        let typed: BTreeMap<String, serde_json::Value> = [
            ("invoice_id".to_string(), json!("INV-7")),
            ("supplier".to_string(), json!("acme")),
        ]
        .into();
        let mailed: BTreeMap<String, serde_json::Value> =
            [("supplier".to_string(), json!(" acme "))].into();
        let (skipped, blank, found) = (
            json!({}),
            json!({ "invoice_id": "" }),
            json!({ "invoice_id": "INV-7" }),
        );

        let key = business_key(&typed, &names());
        assert!(key.is_some());
        assert_eq!(business_key(&mailed, &names()), None);
        assert_eq!(
            business_key_after_extraction(&mailed, &names(), &[&skipped, &blank, &found]),
            key
        );
        assert_eq!(
            business_key_after_extraction(&mailed, &names(), &[&blank]),
            None
        );
    }

    #[test]
    fn an_event_field_wins_over_an_extracted_one() {
        let typed: BTreeMap<String, serde_json::Value> = [
            ("invoice_id".to_string(), json!("INV-7")),
            ("supplier".to_string(), json!("acme")),
        ]
        .into();
        let other = json!({ "invoice_id": "INV-8", "supplier": "globex" });
        assert_eq!(
            business_key_after_extraction(&typed, &names(), &[&other]),
            business_key(&typed, &names())
        );
    }
}
