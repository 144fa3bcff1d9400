use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{field, Field, FieldValue};

/// An amount in a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// ISO 4217 code.
    pub currency: String,
    /// The amount in hundredths, so `€12.50` is 1250.
    pub cents: i64,
}

#[derive(Debug, Clone)]
pub struct Pattern(Regex);

const CODES: &str = "USD|EUR|GBP|JPY|CHF|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|INR|CNY|SGD|HKD";
// Grouped thousands with an optional decimal part, thousands grouped by
// points before a decimal comma (`1.250,00 €`), a plain number with an
// optional decimal point, or a decimal comma (as in `12,50 €`).
const AMOUNT: &str =
    r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d{1,3}(?:\.\d{3})+,\d{2}|\d+(?:\.\d{1,2})?|\d+,\d{2}";

impl Pattern {
    pub fn new() -> Self {
        let pattern = format!(
            r"(?i)(?:(?P<sym>[€$£¥])\s?(?P<a1>{AMOUNT})|\b(?P<c1>{CODES})\s?(?P<a2>{AMOUNT})|\b(?P<a3>{AMOUNT})\s?(?:(?P<sym2>[€£])|(?P<c2>{CODES}|dollars?|euros?|pounds?)\b))"
        );
        Self(Regex::new(&pattern).expect("valid pattern"))
    }

    pub fn find(&self, text: &str) -> Vec<Field> {
        let mut out = Vec::new();
        for caps in self.0.captures_iter(text) {
            let whole = caps.get(0).expect("group 0");
            let amount = ["a1", "a2", "a3"]
                .iter()
                .find_map(|g| caps.name(g))
                .expect("one amount group matches");
            // Reject pieces of a longer number such as `1,23,4 USD` or `2.5.1`.
            let before = text[..amount.start()].chars().next_back();
            let after = text[amount.end()..].chars().next();
            if matches!(before, Some(c) if c.is_ascii_digit() || c == ',' || c == '.')
                || matches!(after, Some(c) if c.is_ascii_digit())
            {
                continue;
            }
            let unit = ["sym", "c1", "sym2", "c2"]
                .iter()
                .find_map(|g| caps.name(g))
                .expect("one currency group matches");
            let (Some(currency), Some(cents)) = (currency(unit.as_str()), cents(amount.as_str()))
            else {
                continue;
            };
            out.push(field(
                text,
                whole.start(),
                whole.end(),
                FieldValue::Money(Money {
                    currency: currency.to_string(),
                    cents,
                }),
            ));
        }
        out
    }
}

fn currency(unit: &str) -> Option<String> {
    let upper = unit.to_uppercase();
    let code = match upper.as_str() {
        "€" | "EURO" | "EUROS" => "EUR",
        "$" | "DOLLAR" | "DOLLARS" => "USD",
        "£" | "POUND" | "POUNDS" => "GBP",
        "¥" => "JPY",
        code if code.len() == 3 => return Some(code.to_string()),
        _ => return None,
    };
    Some(code.to_string())
}

fn cents(amount: &str) -> Option<i64> {
    // A comma followed by exactly two final digits is a decimal comma, and
    // any points before it group thousands; otherwise commas group them.
    let normalised = match amount.rsplit_once(',') {
        Some((whole, frac)) if frac.len() == 2 && !whole.contains(',') => {
            format!("{}.{frac}", whole.replace('.', ""))
        }
        _ => amount.replace(',', ""),
    };
    let (whole, frac) = normalised.split_once('.').unwrap_or((&normalised, ""));
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}
