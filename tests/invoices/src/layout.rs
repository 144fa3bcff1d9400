//! How an invoice is laid out on an A4 page: the same page model is written
//! as a text PDF and rasterised as a scan.

use chrono::NaiveDate;

use crate::invoice::{to_cents, Invoice, BUYER};

/// A4 in points.
pub(crate) const PAGE_WIDTH: f32 = 595.28;
pub(crate) const PAGE_HEIGHT: f32 = 841.89;

const LEFT: f32 = 56.0;
const RIGHT: f32 = 539.0;

/// Three ways suppliers print the same fields: different label words, date
/// and amount formats, and positions of the header, the table and the totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// "Invoice No.", 2026-03-14, "EUR 1,250.00"; letterhead left, meta
    /// block right, a ruled table.
    Classic,
    /// "Invoice #", 14.03.2026, "1.250,00 €"; letterhead right, label and
    /// value columns, a shaded table header with positions.
    TwoColumn,
    /// "Bill number", March 14, 2026, "$1,250.00"; everything small and on
    /// few lines, totals on the left, the letterhead in the footer.
    Compact,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::Classic, Layout::TwoColumn, Layout::Compact];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Classic => "classic",
            Layout::TwoColumn => "two-column",
            Layout::Compact => "compact",
        }
    }

    /// A date as this layout prints it.
    pub fn date(self, date: NaiveDate) -> String {
        let format = match self {
            Layout::Classic => "%Y-%m-%d",
            Layout::TwoColumn => "%d.%m.%Y",
            Layout::Compact => "%B %-d, %Y",
        };
        date.format(format).to_string()
    }

    /// A bare number as printed in the table: "1,250.00" or "1.250,00".
    pub fn number(self, value: f64) -> String {
        match self {
            Layout::TwoColumn => grouped(to_cents(value), '.', ','),
            Layout::Classic | Layout::Compact => grouped(to_cents(value), ',', '.'),
        }
    }

    /// An amount with its currency, as printed in the totals.
    pub fn amount(self, currency: &str, value: f64) -> String {
        let number = self.number(value);
        match (self, symbol(currency)) {
            (Layout::Classic, _) | (Layout::Compact, None) => format!("{currency} {number}"),
            (Layout::TwoColumn, Some(symbol)) => format!("{number} {symbol}"),
            (Layout::TwoColumn, None) => format!("{number} {currency}"),
            (Layout::Compact, Some(symbol)) => format!("{symbol}{number}"),
        }
    }

    /// A quantity: "3", "2.5" or "2,5".
    pub fn quantity(self, quantity: f64) -> String {
        let text = if quantity.fract() == 0.0 {
            format!("{quantity:.0}")
        } else {
            format!("{quantity:.1}")
        };
        match self {
            Layout::TwoColumn => text.replace('.', ","),
            Layout::Classic | Layout::Compact => text,
        }
    }

    pub(crate) fn page(self, invoice: &Invoice) -> Page {
        match self {
            Layout::Classic => classic(invoice),
            Layout::TwoColumn => two_column(invoice),
            Layout::Compact => compact(invoice),
        }
    }
}

fn symbol(currency: &str) -> Option<char> {
    match currency {
        "EUR" => Some('€'),
        "USD" => Some('$'),
        "GBP" => Some('£'),
        _ => None,
    }
}

fn grouped(cents: u64, thousands: char, decimal: char) -> String {
    let units = (cents / 100).to_string();
    let mut out = String::new();
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            out.push(thousands);
        }
        out.push(digit);
    }
    format!("{out}{decimal}{:02}", cents % 100)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A run of text. Positions are in points from the page's top-left corner;
/// `y` is the baseline, `x` the left or right end as `align` says.
#[derive(Debug, Clone)]
pub(crate) struct Text {
    pub x: f32,
    pub y: f32,
    pub size: f32,
    pub bold: bool,
    pub align: Align,
    pub text: String,
}

/// A filled rectangle (a table rule or a shaded bar); `grey` 0 is black.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    pub grey: f32,
}

#[derive(Debug, Default)]
pub(crate) struct Page {
    pub texts: Vec<Text>,
    pub rules: Vec<Rule>,
}

impl Page {
    fn put(
        &mut self,
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        align: Align,
        text: impl Into<String>,
    ) {
        self.texts.push(Text {
            x,
            y,
            size,
            bold,
            align,
            text: text.into(),
        });
    }

    fn left(&mut self, x: f32, y: f32, size: f32, text: impl Into<String>) {
        self.put(x, y, size, false, Align::Left, text);
    }

    fn left_bold(&mut self, x: f32, y: f32, size: f32, text: impl Into<String>) {
        self.put(x, y, size, true, Align::Left, text);
    }

    fn right(&mut self, x: f32, y: f32, size: f32, text: impl Into<String>) {
        self.put(x, y, size, false, Align::Right, text);
    }

    fn right_bold(&mut self, x: f32, y: f32, size: f32, text: impl Into<String>) {
        self.put(x, y, size, true, Align::Right, text);
    }

    fn rule(&mut self, x: f32, y: f32, width: f32, height: f32, grey: f32) {
        self.rules.push(Rule {
            x,
            y,
            width,
            height,
            grey,
        });
    }
}

/// What every layout prints besides the fields: the supplier's address,
/// tax number and bank account (numbers an extractor must not mistake for
/// the fields).
struct Letterhead {
    address: [&'static str; 2],
    vat_id: &'static str,
    iban: &'static str,
}

fn letterhead(invoice: &Invoice) -> Letterhead {
    match invoice.supplier_details() {
        Some(s) => Letterhead {
            address: s.address,
            vat_id: s.vat_id,
            iban: s.iban,
        },
        None => Letterhead {
            address: ["Unit 5, Riverside Park", "Leeds LS10 1AB, United Kingdom"],
            vat_id: "GB 999 0001 23",
            iban: "GB33 BUKB 2020 1555 5555 55",
        },
    }
}

fn terms_days(invoice: &Invoice) -> i64 {
    (invoice.due_date - invoice.issue_date).num_days()
}

fn classic(inv: &Invoice) -> Page {
    let layout = Layout::Classic;
    let head = letterhead(inv);
    let mut p = Page::default();

    p.left_bold(LEFT, 72.0, 16.0, &inv.supplier);
    p.left(LEFT, 90.0, 9.0, head.address[0]);
    p.left(LEFT, 102.0, 9.0, head.address[1]);
    p.left(LEFT, 114.0, 9.0, format!("VAT ID {}", head.vat_id));
    p.right_bold(RIGHT, 72.0, 22.0, "INVOICE");

    p.left_bold(LEFT, 170.0, 10.0, "Bill to");
    for (i, line) in BUYER.iter().enumerate() {
        p.left(LEFT, 185.0 + 13.0 * i as f32, 10.0, *line);
    }

    let mut meta = vec![
        ("Invoice No.", inv.invoice_id.clone()),
        ("Invoice date", layout.date(inv.issue_date)),
        ("Due date", layout.date(inv.due_date)),
    ];
    if let Some(po) = &inv.po_number {
        meta.push(("PO number", po.clone()));
    }
    meta.push(("Customer no.", "10442".into()));
    for (i, (label, value)) in meta.into_iter().enumerate() {
        let y = 170.0 + 15.0 * i as f32;
        p.left_bold(330.0, y, 10.0, label);
        p.right(RIGHT, y, 10.0, value);
    }

    let top = 275.0;
    p.rule(LEFT, top - 14.0, RIGHT - LEFT, 0.8, 0.0);
    p.left_bold(LEFT, top, 10.0, "Description");
    p.right_bold(360.0, top, 10.0, "Qty");
    p.right_bold(450.0, top, 10.0, "Unit price");
    p.right_bold(RIGHT, top, 10.0, "Amount");
    p.rule(LEFT, top + 6.0, RIGHT - LEFT, 0.8, 0.0);
    let mut y = top + 24.0;
    for line in &inv.lines {
        p.left(LEFT, y, 10.0, &line.description);
        p.right(360.0, y, 10.0, layout.quantity(line.quantity));
        p.right(450.0, y, 10.0, layout.number(line.unit_price));
        p.right(RIGHT, y, 10.0, layout.number(line.total));
        y += 18.0;
    }
    p.rule(LEFT, y - 8.0, RIGHT - LEFT, 0.8, 0.0);

    y += 12.0;
    let totals = [
        ("Subtotal".to_string(), inv.subtotal(), false),
        (format!("VAT {}%", inv.tax_rate()), inv.tax, false),
        ("Total due".to_string(), inv.total, true),
    ];
    for (label, value, bold) in totals {
        p.put(330.0, y, 10.0, bold, Align::Left, label);
        p.put(
            RIGHT,
            y,
            10.0,
            bold,
            Align::Right,
            layout.amount(&inv.currency, value),
        );
        y += 17.0;
    }

    p.left(
        LEFT,
        740.0,
        9.0,
        format!(
            "Payment terms: {} days net. Please quote the invoice number with your payment.",
            terms_days(inv)
        ),
    );
    p.left(LEFT, 754.0, 9.0, format!("IBAN {}", head.iban));
    p.rule(LEFT, 770.0, RIGHT - LEFT, 0.5, 0.0);
    p.left(
        LEFT,
        784.0,
        9.0,
        format!("{}, {}, {}", inv.supplier, head.address[0], head.address[1]),
    );
    p
}

fn two_column(inv: &Invoice) -> Page {
    let layout = Layout::TwoColumn;
    let head = letterhead(inv);
    let mut p = Page::default();

    p.right_bold(RIGHT, 60.0, 14.0, &inv.supplier);
    p.right(RIGHT, 76.0, 9.0, head.address[0]);
    p.right(RIGHT, 88.0, 9.0, head.address[1]);
    p.right(RIGHT, 100.0, 9.0, format!("VAT ID {}", head.vat_id));

    p.left_bold(LEFT, 150.0, 24.0, "Invoice");

    p.left_bold(LEFT, 195.0, 9.0, "Invoice to");
    for (i, line) in BUYER.iter().enumerate() {
        p.left(LEFT, 210.0 + 13.0 * i as f32, 10.0, *line);
    }

    let mut meta = vec![
        ("Invoice #", inv.invoice_id.clone()),
        ("Date", layout.date(inv.issue_date)),
        ("Payment due", layout.date(inv.due_date)),
    ];
    if let Some(po) = &inv.po_number {
        meta.push(("Your order", po.clone()));
    }
    for (i, (label, value)) in meta.into_iter().enumerate() {
        let y = 195.0 + 15.0 * i as f32;
        p.left_bold(320.0, y, 10.0, label);
        p.left(420.0, y, 10.0, value);
    }

    let top = 310.0;
    p.rule(LEFT, top - 13.0, RIGHT - LEFT, 18.0, 0.85);
    p.left_bold(LEFT + 4.0, top, 10.0, "Pos.");
    p.left_bold(90.0, top, 10.0, "Item");
    p.right_bold(370.0, top, 10.0, "Qty");
    p.right_bold(455.0, top, 10.0, "Price");
    p.right_bold(RIGHT - 4.0, top, 10.0, "Amount");
    let mut y = top + 24.0;
    for (i, line) in inv.lines.iter().enumerate() {
        p.left(LEFT + 4.0, y, 10.0, (i + 1).to_string());
        p.left(90.0, y, 10.0, &line.description);
        p.right(370.0, y, 10.0, layout.quantity(line.quantity));
        p.right(455.0, y, 10.0, layout.number(line.unit_price));
        p.right(RIGHT - 4.0, y, 10.0, layout.number(line.total));
        p.rule(LEFT, y + 7.0, RIGHT - LEFT, 0.4, 0.6);
        y += 20.0;
    }

    y += 14.0;
    p.left(350.0, y, 10.0, "Net amount");
    p.right(
        RIGHT - 4.0,
        y,
        10.0,
        layout.amount(&inv.currency, inv.subtotal()),
    );
    y += 16.0;
    p.left(350.0, y, 10.0, format!("Tax ({}%)", inv.tax_rate()));
    p.right(RIGHT - 4.0, y, 10.0, layout.amount(&inv.currency, inv.tax));
    y += 8.0;
    p.rule(350.0, y, RIGHT - 350.0, 0.8, 0.0);
    y += 16.0;
    p.left_bold(350.0, y, 12.0, "Amount due");
    p.right_bold(
        RIGHT - 4.0,
        y,
        12.0,
        layout.amount(&inv.currency, inv.total),
    );

    p.left(
        LEFT,
        y + 50.0,
        10.0,
        format!(
            "Please pay within {} days, quoting the invoice number.",
            terms_days(inv)
        ),
    );
    p.left_bold(LEFT, 750.0, 9.0, "Bank details");
    p.left(
        LEFT,
        763.0,
        9.0,
        format!("Account holder: {}", inv.supplier),
    );
    p.left(LEFT, 776.0, 9.0, format!("IBAN: {}", head.iban));
    p
}

fn compact(inv: &Invoice) -> Page {
    let layout = Layout::Compact;
    let head = letterhead(inv);
    let mut p = Page::default();

    p.left_bold(LEFT, 52.0, 12.0, &inv.supplier);
    p.right_bold(RIGHT, 52.0, 12.0, format!("Bill number {}", inv.invoice_id));
    p.rule(LEFT, 60.0, RIGHT - LEFT, 1.0, 0.0);

    p.left(
        LEFT,
        78.0,
        9.0,
        format!("Issued {}", layout.date(inv.issue_date)),
    );
    p.left(
        230.0,
        78.0,
        9.0,
        format!("Due {}", layout.date(inv.due_date)),
    );
    if let Some(po) = &inv.po_number {
        p.right(RIGHT, 78.0, 9.0, format!("Purchase order {po}"));
    }
    p.left(LEFT, 94.0, 9.0, format!("To: {}", BUYER.join(", ")));

    let top = 128.0;
    p.left_bold(LEFT, top, 9.0, "Qty");
    p.left_bold(LEFT + 40.0, top, 9.0, "Description");
    p.right_bold(440.0, top, 9.0, "Each");
    p.right_bold(RIGHT, top, 9.0, "Total");
    let mut y = top + 16.0;
    for line in &inv.lines {
        p.left(LEFT, y, 9.0, layout.quantity(line.quantity));
        p.left(LEFT + 40.0, y, 9.0, &line.description);
        p.right(440.0, y, 9.0, layout.number(line.unit_price));
        p.right(RIGHT, y, 9.0, layout.number(line.total));
        y += 14.0;
    }
    p.rule(LEFT, y - 6.0, RIGHT - LEFT, 0.5, 0.0);

    y += 10.0;
    let totals = [
        ("Subtotal".to_string(), inv.subtotal(), false),
        (format!("Sales tax {}%", inv.tax_rate()), inv.tax, false),
        ("Total".to_string(), inv.total, true),
    ];
    for (label, value, bold) in totals {
        p.put(LEFT, y, 10.0, bold, Align::Left, label);
        p.put(
            260.0,
            y,
            10.0,
            bold,
            Align::Right,
            layout.amount(&inv.currency, value),
        );
        y += 15.0;
    }
    p.left(
        LEFT,
        y + 10.0,
        9.0,
        format!("Net {} days. Pay to IBAN {}", terms_days(inv), head.iban),
    );

    p.rule(LEFT, 790.0, RIGHT - LEFT, 0.5, 0.0);
    p.left(
        LEFT,
        803.0,
        9.0,
        format!(
            "{} · {} · {} · VAT ID {}",
            inv.supplier, head.address[0], head.address[1], head.vat_id
        ),
    );
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_per_layout() {
        assert_eq!(Layout::Classic.amount("EUR", 1250.0), "EUR 1,250.00");
        assert_eq!(Layout::TwoColumn.amount("EUR", 1250.0), "1.250,00 €");
        assert_eq!(Layout::Compact.amount("USD", 1250.0), "$1,250.00");
        assert_eq!(Layout::Compact.amount("CHF", 1234567.5), "CHF 1,234,567.50");
        assert_eq!(Layout::Classic.number(0.5), "0.50");
    }

    #[test]
    fn dates_follow_the_layout() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        assert_eq!(Layout::Classic.date(date), "2026-03-14");
        assert_eq!(Layout::TwoColumn.date(date), "14.03.2026");
        assert_eq!(Layout::Compact.date(date), "March 14, 2026");
    }
}
