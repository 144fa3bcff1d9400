use regex::Regex;

use super::{field, Field, FieldValue};

/// A calendar date; serialises as `YYYY-MM-DD`.
pub type Date = chrono::NaiveDate;

#[derive(Debug, Clone)]
pub struct Pattern {
    iso: Regex,
    day_month: Regex,
    month_day: Regex,
}

const MONTH: &str = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec";

impl Pattern {
    // Numeric forms like 03/04/2024 are left out on purpose: day-first and
    // month-first readings disagree, and a wrong date is worse than none.
    pub fn new() -> Self {
        Self {
            iso: Regex::new(r"\b(\d{4})[-/](\d{1,2})[-/](\d{1,2})\b").expect("valid pattern"),
            day_month: Regex::new(&format!(
                r"(?i)\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTH})\.?,?\s+(\d{{4}})\b"
            ))
            .expect("valid pattern"),
            month_day: Regex::new(&format!(
                r"(?i)\b({MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b"
            ))
            .expect("valid pattern"),
        }
    }

    pub fn find(&self, text: &str) -> Vec<Field> {
        let mut out = Vec::new();
        let mut push = |start: usize, end: usize, y: &str, m: u32, d: &str| {
            let (Ok(y), Ok(d)) = (y.parse(), d.parse()) else {
                return;
            };
            if let Some(date) = Date::from_ymd_opt(y, m, d) {
                out.push(field(text, start, end, FieldValue::Date(date)));
            }
        };
        for c in self.iso.captures_iter(text) {
            let whole = c.get(0).expect("group 0");
            // `2024-03-12-7` is a reference number, not a date.
            if text[whole.end()..].starts_with(['-', '/']) {
                continue;
            }
            if let Ok(m) = c[2].parse() {
                push(whole.start(), whole.end(), &c[1], m, &c[3]);
            }
        }
        for c in self.day_month.captures_iter(text) {
            let whole = c.get(0).expect("group 0");
            push(whole.start(), whole.end(), &c[3], month(&c[2]), &c[1]);
        }
        for c in self.month_day.captures_iter(text) {
            let whole = c.get(0).expect("group 0");
            push(whole.start(), whole.end(), &c[3], month(&c[1]), &c[2]);
        }
        out.sort_by_key(|f| f.start);
        out
    }
}

fn month(name: &str) -> u32 {
    let prefix: String = name.to_lowercase().chars().take(3).collect();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    months
        .iter()
        .position(|m| *m == prefix)
        .map_or(0, |i| i as u32 + 1)
}
