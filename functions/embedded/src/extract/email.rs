use regex::Regex;

use super::{field, Field, FieldValue};

#[derive(Debug, Clone)]
pub struct Pattern(Regex);

impl Pattern {
    pub fn new() -> Self {
        // Requires a dotted domain with a 2+ letter TLD: `ops@localhost` and
        // `@handle` are not addresses a workflow can write to.
        Self(
            Regex::new(
                r"(?i)\b[a-z0-9][a-z0-9._%+-]*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}\b",
            )
            .expect("valid pattern"),
        )
    }

    pub fn find(&self, text: &str) -> Vec<Field> {
        self.0
            .find_iter(text)
            .map(|m| {
                let address = m.as_str().to_lowercase();
                field(text, m.start(), m.end(), FieldValue::Email(address))
            })
            .collect()
    }
}
