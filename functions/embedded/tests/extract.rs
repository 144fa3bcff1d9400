use handoff_embedded::extract::{
    extract, Date, ExtractConfig, Extractor, FieldValue, IdKind, IdPrefix, Money,
};

fn values(text: &str) -> Vec<FieldValue> {
    extract(text).into_iter().map(|f| f.value).collect()
}

fn money(currency: &str, cents: i64) -> FieldValue {
    FieldValue::Money(Money {
        currency: currency.into(),
        cents,
    })
}

fn id(kind: IdKind, id: &str) -> FieldValue {
    FieldValue::Id {
        kind,
        id: id.into(),
    }
}

fn date(y: i32, m: u32, d: u32) -> FieldValue {
    FieldValue::Date(Date::from_ymd_opt(y, m, d).unwrap())
}

#[test]
fn email_is_extracted_with_its_span() {
    let text = "Please reply to Jane.Doe+billing@Example.co.uk today.";
    let fields = extract(text);
    assert_eq!(fields.len(), 1);
    assert_eq!(
        fields[0].value,
        FieldValue::Email("jane.doe+billing@example.co.uk".into())
    );
    assert_eq!(&text[fields[0].start..fields[0].end], fields[0].text);
    assert_eq!(fields[0].text, "Jane.Doe+billing@Example.co.uk");
}

#[test]
fn things_that_only_look_like_emails_are_not_extracted() {
    assert!(values("ping @support or ops@localhost, or a@b.c").is_empty());
}

#[test]
fn money_in_symbol_code_and_word_forms() {
    assert_eq!(
        values("Charged €12.50, then 1,234.00 USD, then $5 and 12,50 € and 40 pounds."),
        [
            money("EUR", 1250),
            money("USD", 123_400),
            money("USD", 500),
            money("EUR", 1250),
            money("GBP", 4000),
        ]
    );
    assert_eq!(values("GBP 3.5 fee"), [money("GBP", 350)]);
    assert_eq!(
        values("Gesamt 1.250,00 € und EUR 12.345.678,90"),
        [money("EUR", 125_000), money("EUR", 1_234_567_890)]
    );
}

#[test]
fn numbers_without_a_currency_are_not_money() {
    assert!(values("version 2.5, 300 items, 1,23,4 USD? USDT 5, $ alone").is_empty());
}

#[test]
fn invoice_po_and_order_ids() {
    assert_eq!(
        values("Invoice INV-2024-001 for PO-4471 (order #12345, ORD 778)."),
        [
            id(IdKind::Invoice, "INV-2024-001"),
            id(IdKind::PurchaseOrder, "PO-4471"),
            id(IdKind::Order, "12345"),
            id(IdKind::Order, "ORD-778"),
        ]
    );
}

#[test]
fn words_and_short_hashes_are_not_ids() {
    assert!(values("INVOICE attached, see PO-BOX, item #12, #hashtag, IPO-2024").is_empty());
}

#[test]
fn id_prefixes_are_configurable() {
    let extractor = Extractor::new(&ExtractConfig {
        id_prefixes: vec![IdPrefix::new("RMA", IdKind::Order)],
    })
    .unwrap();
    let fields: Vec<FieldValue> = extractor
        .extract("Return RMA-77A1 not INV-1")
        .into_iter()
        .map(|f| f.value)
        .collect();
    assert_eq!(fields, [id(IdKind::Order, "RMA-77A1")]);
    assert!(Extractor::new(&ExtractConfig {
        id_prefixes: vec![IdPrefix::new("A-B", IdKind::Order)],
    })
    .is_err());
}

#[test]
fn iso_and_written_dates() {
    assert_eq!(
        values("Due 2024-03-09, paid 3rd March 2024, shipped Feb 29, 2024 and 1 of Dec 2023."),
        [
            date(2024, 3, 9),
            date(2024, 3, 3),
            date(2024, 2, 29),
            date(2023, 12, 1),
        ]
    );
}

#[test]
fn impossible_or_partial_dates_are_not_extracted() {
    assert!(values("2024-13-45, Feb 30, 2023, May I ask, March 2024, 2024-03-12-7").is_empty());
}

#[test]
fn an_id_is_not_also_read_as_a_date_or_amount() {
    let fields = extract("Re: INV-2024-03-12 and $20");
    assert_eq!(
        fields.into_iter().map(|f| f.value).collect::<Vec<_>>(),
        [id(IdKind::Invoice, "INV-2024-03-12"), money("USD", 2000)]
    );
}

#[test]
fn fields_serialise_with_kind_value_and_span() {
    let json = serde_json::to_value(&extract("pay €3")[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "money", "value": {"currency": "EUR", "cents": 300},
                           "start": 4, "end": 8, "text": "€3"})
    );
}
