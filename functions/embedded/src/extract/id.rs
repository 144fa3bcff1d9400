use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{field, ExtractError, Field, FieldValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    Order,
    Invoice,
    PurchaseOrder,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdPrefix {
    pub prefix: String,
    pub kind: IdKind,
}

impl IdPrefix {
    pub fn new(prefix: impl Into<String>, kind: IdKind) -> Self {
        Self {
            prefix: prefix.into(),
            kind,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pattern {
    prefixed: Regex,
    kinds: Vec<(String, IdKind)>,
    hash_order: Regex,
}

impl Pattern {
    pub fn new(prefixes: &[IdPrefix]) -> Result<Self, ExtractError> {
        for p in prefixes {
            if p.prefix.is_empty() || !p.prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(ExtractError::BadPrefix(p.prefix.clone()));
            }
        }
        // Longest prefix first so `PO` never shadows a longer prefix that
        // starts with it.
        let mut kinds: Vec<(String, IdKind)> = prefixes
            .iter()
            .map(|p| (p.prefix.to_uppercase(), p.kind))
            .collect();
        kinds.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let alternatives: Vec<String> = kinds.iter().map(|(p, _)| regex::escape(p)).collect();
        let alternatives = if alternatives.is_empty() {
            // A prefix that can never match keeps the code path uniform.
            "[^\\s\\S]".to_string()
        } else {
            alternatives.join("|")
        };
        // The body must hold a digit: `PO-BOX` or `INVOICE` are words, not ids.
        let prefixed = Regex::new(&format!(
            r"(?i)\b({alternatives})(?:[-_ ]?#?|\s*#\s*)([A-Z0-9]*[0-9][A-Z0-9]*(?:[-/][A-Z0-9]+)*)\b"
        ))
        .expect("valid pattern");
        let hash_order = Regex::new(r"(?:^|[^\w&])#([0-9]{4,12})\b").expect("valid pattern");
        Ok(Self {
            prefixed,
            kinds,
            hash_order,
        })
    }

    pub fn find(&self, text: &str) -> Vec<Field> {
        let mut out = Vec::new();
        for caps in self.prefixed.captures_iter(text) {
            let whole = caps.get(0).expect("group 0");
            let prefix = caps[1].to_uppercase();
            let Some(kind) = self.kinds.iter().find(|(p, _)| *p == prefix).map(|k| k.1) else {
                continue;
            };
            let body = caps[2].to_uppercase();
            let id = format!("{prefix}-{body}");
            out.push(field(
                text,
                whole.start(),
                whole.end(),
                FieldValue::Id { kind, id },
            ));
        }
        for caps in self.hash_order.captures_iter(text) {
            let digits = caps.get(1).expect("group 1");
            // The span starts at the `#`, not at the character before it.
            out.push(field(
                text,
                digits.start() - 1,
                digits.end(),
                FieldValue::Id {
                    kind: IdKind::Order,
                    id: digits.as_str().to_string(),
                },
            ));
        }
        out.sort_by_key(|f| f.start);
        out
    }
}
