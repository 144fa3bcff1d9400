//! Typed field extraction by patterns: e-mail addresses, money amounts with
//! their currency, order / invoice / purchase-order ids, dates, and an
//! invoice table's line items ([`line_items`]).
//!
//! Every field carries its byte span so a reviewer page can highlight it.
//! Where two patterns claim overlapping text, the earlier and then longer
//! match wins, so `INV-2024-001` is one invoice id and not also a number.

mod date;
mod email;
mod id;
mod lines;
mod money;

use serde::{Deserialize, Serialize};

pub use date::Date;
pub use id::{IdKind, IdPrefix};
pub use lines::{line_items, LineItem};
pub use money::Money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    Email(String),
    Money(Money),
    Id { kind: IdKind, id: String },
    Date(Date),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    #[serde(flatten)]
    pub value: FieldValue,
    /// Byte offsets into the input, end exclusive.
    pub start: usize,
    pub end: usize,
    /// The input text the field was read from.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractConfig {
    /// Id prefixes and what they identify; `#12345` order numbers are always
    /// recognised.
    pub id_prefixes: Vec<IdPrefix>,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        Self {
            id_prefixes: vec![
                IdPrefix::new("INV", IdKind::Invoice),
                IdPrefix::new("PO", IdKind::PurchaseOrder),
                IdPrefix::new("ORD", IdKind::Order),
            ],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("id prefix {0:?} must be letters or digits")]
    BadPrefix(String),
}

/// Compiled patterns; build once and reuse, compiling is the costly part.
#[derive(Debug, Clone)]
pub struct Extractor {
    email: email::Pattern,
    money: money::Pattern,
    id: id::Pattern,
    date: date::Pattern,
}

impl Extractor {
    pub fn new(config: &ExtractConfig) -> Result<Self, ExtractError> {
        Ok(Self {
            email: email::Pattern::new(),
            money: money::Pattern::new(),
            id: id::Pattern::new(&config.id_prefixes)?,
            date: date::Pattern::new(),
        })
    }

    /// All fields in `text`, ordered by position, none overlapping.
    pub fn extract(&self, text: &str) -> Vec<Field> {
        // Priority order: an e-mail may contain digits that look like an id,
        // and an id may contain digits that look like a date or an amount.
        let mut candidates = Vec::new();
        candidates.extend(self.email.find(text));
        candidates.extend(self.id.find(text));
        candidates.extend(self.date.find(text));
        candidates.extend(self.money.find(text));
        let mut accepted: Vec<Field> = Vec::new();
        for field in candidates {
            let overlaps = accepted
                .iter()
                .any(|a| field.start < a.end && a.start < field.end);
            if !overlaps {
                accepted.push(field);
            }
        }
        accepted.sort_by_key(|f| (f.start, f.end));
        accepted
    }
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new(&ExtractConfig::default()).expect("default prefixes are valid")
    }
}

/// Extracts with the default configuration.
pub fn extract(text: &str) -> Vec<Field> {
    thread_local! {
        static DEFAULT: Extractor = Extractor::default();
    }
    DEFAULT.with(|e| e.extract(text))
}

fn field(text: &str, start: usize, end: usize, value: FieldValue) -> Field {
    Field {
        value,
        start,
        end,
        text: text[start..end].to_string(),
    }
}
