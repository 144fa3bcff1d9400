//! An invoice's line items, read from its table as text: one row per line,
//! ending in the unit price and the line total, with the quantity either
//! just before the unit price or first on the row (`2 Office chairs …`).
//!
//! The row's own arithmetic is not checked here: a line whose quantity ×
//! unit price is not its total is exactly what a rule must see.

use serde::{Deserialize, Serialize};

/// One row of an invoice's table. Amounts in hundredths, as [`super::Money`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub description: String,
    pub quantity: Option<f64>,
    pub unit_price_cents: i64,
    pub total_cents: i64,
}

/// The rows of `text` that read as line items, in order.
pub fn line_items(text: &str) -> Vec<LineItem> {
    text.lines().filter_map(row).collect()
}

/// Words that open a totals row, never an item.
const TOTALS: [&str; 8] = [
    "subtotal", "total", "tax", "vat", "gst", "mwst", "amount", "balance",
];

fn row(line: &str) -> Option<LineItem> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let [rest @ .., unit, total] = tokens.as_slice() else {
        return None;
    };
    let (unit_price_cents, total_cents) = (table_amount(unit)?, table_amount(total)?);
    let mut rest = rest;
    let mut quantity = None;
    if let [before @ .., last] = rest {
        if !before.is_empty() {
            if let Some(q) = quantity_of(last) {
                quantity = Some(q);
                rest = before;
                // A row number before the description (`1 Office chairs 2 …`).
                if let [first, after @ ..] = rest {
                    if !after.is_empty() && is_row_number(first) {
                        rest = after;
                    }
                }
            }
        }
    }
    if quantity.is_none() {
        if let [first, after @ ..] = rest {
            if !after.is_empty() {
                if let Some(q) = quantity_of(first) {
                    quantity = Some(q);
                    rest = after;
                }
            }
        }
    }
    let description = rest.join(" ");
    let opening = rest.first()?.trim_end_matches(':').to_ascii_lowercase();
    if !description.chars().any(char::is_alphabetic) || TOTALS.contains(&opening.as_str()) {
        return None;
    }
    Some(LineItem {
        description,
        quantity,
        unit_price_cents,
        total_cents,
    })
}

/// A bare amount with exactly two decimals, grouped either way:
/// `1,250.00`, `1.250,00`, `12.50`, `12,50`.
fn table_amount(token: &str) -> Option<i64> {
    if !token.is_ascii() {
        return None;
    }
    let split = token.len().checked_sub(3)?;
    let (whole, decimals) = token.split_at(split);
    let mut decimals = decimals.chars();
    let separator = decimals.next()?;
    if !matches!(separator, '.' | ',') || !decimals.clone().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let grouping = if separator == '.' { ',' } else { '.' };
    let groups: Vec<&str> = whole.split(grouping).collect();
    let grouped_well = groups.iter().enumerate().all(|(i, g)| {
        g.chars().all(|c| c.is_ascii_digit())
            && match i {
                0 => (1..=3).contains(&g.len()) || groups.len() == 1 && !g.is_empty(),
                _ => g.len() == 3,
            }
    });
    if !grouped_well {
        return None;
    }
    let whole: i64 = groups.concat().parse().ok()?;
    let cents: i64 = decimals.as_str().parse().ok()?;
    whole.checked_mul(100)?.checked_add(cents)
}

/// A count as a table prints it: `3`, `2.5`, `2,5`. Not `1,000`: three
/// digits after the separator may be a thousand as well as a fraction.
fn quantity_of(token: &str) -> Option<f64> {
    let (whole, fraction) = match token.split_once(['.', ',']) {
        Some((w, f)) if (1..=2).contains(&f.len()) => (w, f),
        Some(_) => return None,
        None => (token, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 6 && s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    format!("{whole}.{fraction}").parse().ok()
}

fn is_row_number(token: &str) -> bool {
    let token = token.trim_end_matches('.');
    (1..=3).contains(&token.len()) && token.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(description: &str, quantity: Option<f64>, unit: i64, total: i64) -> LineItem {
        LineItem {
            description: description.into(),
            quantity,
            unit_price_cents: unit,
            total_cents: total,
        }
    }

    #[test]
    fn rows_of_each_table_shape_are_read() {
        let text = "Description Qty Unit price Amount\n\
                    Office chairs 2 500.00 1,000.00\n\
                    1 Standing desk 2,5 1.200,00 3.000,00\n\
                    3 USB-C cables 4.50 13.50\n\
                    Subtotal 1,000.00 1,000.00\n\
                    VAT 19% EUR 190.00\n\
                    Total due EUR 1,190.00";
        assert_eq!(
            line_items(text),
            [
                item("Office chairs", Some(2.0), 50_000, 100_000),
                item("Standing desk", Some(2.5), 120_000, 300_000),
                item("USB-C cables", Some(3.0), 450, 1350),
            ]
        );
    }

    #[test]
    fn a_row_that_does_not_add_up_is_still_read_as_printed() {
        assert_eq!(
            line_items("Consulting 3 100.00 250.00"),
            [item("Consulting", Some(3.0), 10_000, 25_000)]
        );
    }

    #[test]
    fn amounts_must_be_two_decimal_table_amounts() {
        for bad in [
            "12.5",
            "1,25.00",
            "1.2345,00",
            "x.00",
            "1,000",
            "12.50€",
            "a€b",
            "€.00",
        ] {
            assert_eq!(table_amount(bad), None, "{bad}");
        }
        assert_eq!(table_amount("1,234,567.89"), Some(123_456_789));
        assert_eq!(table_amount("1234.50"), Some(123_450));
        assert_eq!(table_amount("0,99"), Some(99));
        assert_eq!(quantity_of("1,000"), None);
    }

    #[test]
    fn numbers_alone_are_no_item() {
        assert!(line_items("2 500.00 1,000.00\n12 34.00 56.00").is_empty());
    }
}
