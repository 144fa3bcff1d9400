//! One invoice's ground truth, drawn from a seed.

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

/// One invoice as issued. Amounts are in the currency's major unit and hold
/// whole cents: every sum is made in cents first, so `lines + tax == total`
/// holds to the cent unless [`Invoice::with_wrong_total`] broke it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    /// Display name, as printed: "Acme Supplies GmbH".
    pub supplier: String,
    /// The workflow's lookup key: "acme-supplies", "globex", or one the
    /// workflow does not know.
    pub supplier_key: String,
    pub invoice_id: String,
    pub po_number: Option<String>,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// ISO 4217 code: "EUR".
    pub currency: String,
    pub lines: Vec<Line>,
    pub tax: f64,
    pub total: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub description: String,
    pub quantity: f64,
    pub unit_price: f64,
    pub total: f64,
}

/// Who sends invoices: the two suppliers the workflow's purchase-order
/// lookup knows and three it does not.
pub(crate) struct Supplier {
    pub key: &'static str,
    pub name: &'static str,
    pub currency: &'static str,
    pub open_pos: &'static [&'static str],
    /// Tax rates in percent, one drawn per invoice.
    pub tax_rates: &'static [u32],
    pub id_style: IdStyle,
    pub address: [&'static str; 2],
    pub vat_id: &'static str,
    pub iban: &'static str,
    pub catalog: &'static [Item],
}

pub(crate) struct Item {
    pub description: &'static str,
    /// Unit price range in cents.
    pub price: (u64, u64),
    /// Billed by the hour: quantities in half hours, whole-unit prices.
    pub hourly: bool,
}

#[derive(Clone, Copy)]
pub(crate) enum IdStyle {
    /// "AC-88123"
    Prefixed(&'static str),
    /// "INV-2026-0412"
    YearSerial,
    /// "2026/117"
    Slashed,
}

const fn goods(description: &'static str, low: u64, high: u64) -> Item {
    Item {
        description,
        price: (low, high),
        hourly: false,
    }
}

const fn hours(description: &'static str, low: u64, high: u64) -> Item {
    Item {
        description,
        price: (low, high),
        hourly: true,
    }
}

pub(crate) const SUPPLIERS: &[Supplier] = &[
    Supplier {
        key: "acme-supplies",
        name: "Acme Supplies GmbH",
        currency: "EUR",
        open_pos: &["PO-4471", "PO-4480"],
        tax_rates: &[19, 19, 19, 0],
        id_style: IdStyle::Prefixed("AC-"),
        address: ["Industriestrasse 12", "70565 Stuttgart, Germany"],
        vat_id: "DE 281 443 907",
        iban: "DE89 3704 0044 0532 0130 00",
        catalog: &[
            goods("Copy paper A4 80 gsm, box of 5 reams", 2490, 3250),
            goods("Toner cartridge, black, high yield", 8900, 14900),
            goods("Ballpoint pens, blue, pack of 50", 990, 1490),
            goods("Lever arch files, 80 mm, pack of 10", 1850, 2600),
            goods("Desk organiser, grey", 1450, 2290),
            hours("Printer maintenance on site", 65, 95),
            goods("Delivery charge", 990, 1990),
        ],
    },
    Supplier {
        key: "globex",
        name: "Globex Corporation",
        currency: "USD",
        open_pos: &["PO-5102"],
        tax_rates: &[0],
        id_style: IdStyle::YearSerial,
        address: ["1200 Harbor Boulevard", "Springfield, OR 97477, USA"],
        vat_id: "EIN 94-3127745",
        iban: "US12 0210 0002 1000 4481 22",
        catalog: &[
            goods("Hydraulic pump HX-200", 84000, 129000),
            goods("Replacement filter set", 4500, 9800),
            hours("Engineering consulting", 120, 210),
            goods("Annual maintenance contract", 240000, 480000),
            goods("Freight and handling", 7500, 22000),
        ],
    },
    Supplier {
        key: "initech",
        name: "Initech Ltd",
        currency: "GBP",
        open_pos: &[],
        tax_rates: &[20],
        id_style: IdStyle::YearSerial,
        address: ["4 Canal Street", "Manchester M1 3HE, United Kingdom"],
        vat_id: "GB 312 5567 08",
        iban: "GB29 NWBK 6016 1331 9268 19",
        catalog: &[
            goods("Software licence, 12 months", 12000, 36000),
            hours("Support hours", 85, 140),
            goods("Report binders, pack of 25", 1800, 2900),
        ],
    },
    Supplier {
        key: "mueller-buerobedarf",
        name: "Müller Bürobedarf GmbH",
        currency: "EUR",
        open_pos: &[],
        tax_rates: &[19],
        id_style: IdStyle::Slashed,
        address: ["Lindenallee 7", "04109 Leipzig, Germany"],
        vat_id: "DE 196 204 551",
        iban: "DE44 8605 5592 1090 0417 33",
        catalog: &[
            goods("Bürostuhl Ergo 3, schwarz", 18900, 32900),
            goods("Schreibtischlampe LED", 3490, 5990),
            goods("Whiteboard 120 x 90 cm", 8990, 13900),
            goods("Versandkosten", 690, 1490),
        ],
    },
    Supplier {
        key: "nordwind-logistik",
        name: "Nordwind Logistik GmbH",
        currency: "EUR",
        open_pos: &[],
        tax_rates: &[20, 0],
        id_style: IdStyle::Prefixed("NW-"),
        address: ["Hafenstrasse 31", "4020 Linz, Austria"],
        vat_id: "ATU 6731 2248",
        iban: "AT61 1904 3002 3457 3201",
        catalog: &[
            goods("Pallet transport Linz - Munich", 38000, 69000),
            goods("Warehouse storage, per pallet and week", 450, 900),
            hours("Loading and unloading", 45, 70),
            goods("Fuel surcharge", 2500, 6000),
        ],
    },
];

/// Who receives: the workflow's accounts-payable side.
pub(crate) const BUYER: [&str; 4] = [
    "Northwind Traders Ltd",
    "Accounts Payable",
    "12 Harbour Street",
    "Bristol BS1 4DJ, United Kingdom",
];

impl Invoice {
    /// The same seed gives the same invoice.
    pub fn sample(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let supplier = &SUPPLIERS[rng.gen_range(0..SUPPLIERS.len())];

        let issue_date = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date")
            + Duration::days(rng.gen_range(0..330));
        let due_date = issue_date + Duration::days(*[14, 30, 30, 45].choose(&mut rng).unwrap());
        let invoice_id = match supplier.id_style {
            IdStyle::Prefixed(prefix) => format!("{prefix}{}", rng.gen_range(10000..100000)),
            IdStyle::YearSerial => {
                format!("INV-{}-{:04}", issue_date.year(), rng.gen_range(1..10000))
            }
            IdStyle::Slashed => format!("{}/{}", issue_date.year(), rng.gen_range(1..1000)),
        };

        // Mostly a PO the workflow knows as open; sometimes one it does not
        // know, sometimes none at all.
        let roll = rng.gen_range(0..100);
        let po_number = if !supplier.open_pos.is_empty() && roll < 70 {
            Some(supplier.open_pos.choose(&mut rng).unwrap().to_string())
        } else if roll < 85 {
            Some(unknown_po(&mut rng))
        } else {
            None
        };

        let count = rng.gen_range(1..=5.min(supplier.catalog.len()));
        let mut items: Vec<&Item> = supplier.catalog.iter().collect();
        items.shuffle(&mut rng);
        let lines: Vec<(String, u64, u64, u64)> = items
            .into_iter()
            .take(count)
            .map(|item| {
                // Quantities in halves; an hourly price is whole units so
                // that quantity × price is a whole number of cents.
                let (halves, unit_cents) = if item.hourly {
                    let halves = rng.gen_range(2..=40);
                    (halves, rng.gen_range(item.price.0..=item.price.1) * 100)
                } else {
                    let halves = 2 * rng.gen_range(1..=12);
                    (halves, rng.gen_range(item.price.0..=item.price.1))
                };
                let total = halves * unit_cents / 2;
                (item.description.to_string(), halves, unit_cents, total)
            })
            .collect();

        let subtotal: u64 = lines.iter().map(|l| l.3).sum();
        let rate = *supplier.tax_rates.choose(&mut rng).unwrap() as u64;
        let tax = (subtotal * rate + 50) / 100;
        Invoice {
            supplier: supplier.name.into(),
            supplier_key: supplier.key.into(),
            invoice_id,
            po_number,
            issue_date,
            due_date,
            currency: supplier.currency.into(),
            lines: lines
                .into_iter()
                .map(|(description, halves, unit, total)| Line {
                    description,
                    quantity: halves as f64 / 2.0,
                    unit_price: cents(unit),
                    total: cents(total),
                })
                .collect(),
            tax: cents(tax),
            total: cents(subtotal + tax),
        }
    }

    /// The same invoice with a printed total that is not lines + tax, as a
    /// supplier's typo would give.
    pub fn with_wrong_total(mut self) -> Self {
        let total = to_cents(self.total);
        // Two neighbouring digits swapped, or one too many in the hundreds.
        let swapped = swap_last_digits(total);
        self.total = cents(if swapped != total {
            swapped
        } else {
            total + 10_000
        });
        self
    }

    /// The fields the workflow's `invoice` extract task should give, in its
    /// schema's shape; `po_number` only when one is printed.
    pub fn expected(&self) -> Value {
        let mut fields = Map::new();
        fields.insert("invoice_id".into(), json!(self.invoice_id));
        if let Some(po) = &self.po_number {
            fields.insert("po_number".into(), json!(po));
        }
        fields.insert(
            "amount".into(),
            json!({ "value": self.total, "currency": self.currency }),
        );
        fields.insert(
            "due_date".into(),
            json!(self.due_date.format("%Y-%m-%d").to_string()),
        );
        fields.insert("tax".into(), json!(self.tax));
        fields.insert(
            "line_items".into(),
            self.lines
                .iter()
                .map(|l| {
                    json!({
                        "description": l.description,
                        "quantity": l.quantity,
                        "unit_price": l.unit_price,
                        "total": l.total,
                    })
                })
                .collect(),
        );
        Value::Object(fields)
    }

    /// Lines before tax.
    pub fn subtotal(&self) -> f64 {
        cents(self.lines.iter().map(|l| to_cents(l.total)).sum())
    }

    /// The tax rate in whole percent, as printed beside the tax.
    pub fn tax_rate(&self) -> u32 {
        let subtotal = to_cents(self.subtotal());
        if subtotal == 0 {
            return 0;
        }
        ((to_cents(self.tax) as f64 / subtotal as f64) * 100.0).round() as u32
    }

    pub(crate) fn supplier_details(&self) -> Option<&'static Supplier> {
        SUPPLIERS.iter().find(|s| s.key == self.supplier_key)
    }

    /// The sender's mail domain, under the reserved `.example` top level.
    pub fn supplier_domain(&self) -> String {
        format!("{}.example", self.supplier_key)
    }
}

fn unknown_po<R: Rng>(rng: &mut R) -> String {
    loop {
        let po = format!("PO-{}", rng.gen_range(1000..10000));
        if !SUPPLIERS.iter().any(|s| s.open_pos.contains(&po.as_str())) {
            return po;
        }
    }
}

fn swap_last_digits(cents: u64) -> u64 {
    // The two digits before the decimal point: 1250.00 -> 1205.00.
    let units = cents / 100;
    let (tens, ones) = ((units / 10) % 10, units % 10);
    let swapped_units = units - tens * 10 - ones + ones * 10 + tens;
    swapped_units * 100 + cents % 100
}

pub(crate) fn cents(value: u64) -> f64 {
    value as f64 / 100.0
}

pub(crate) fn to_cents(value: f64) -> u64 {
    (value * 100.0).round() as u64
}
