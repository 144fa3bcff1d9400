use handoff_invoices::{pdf, Invoice, Layout};
use serde_json::Value;

fn cents(value: &Value) -> i64 {
    (value.as_f64().expect("a number") * 100.0).round() as i64
}

/// Lines plus tax minus the printed total, in cents, from the expected fields.
fn discrepancy(expected: &Value) -> i64 {
    let lines: i64 = expected["line_items"]
        .as_array()
        .expect("line items")
        .iter()
        .map(|line| cents(&line["total"]))
        .sum();
    lines + cents(&expected["tax"]) - cents(&expected["amount"]["value"])
}

#[test]
fn same_seed_gives_the_same_invoice_and_identical_pdfs() {
    for seed in [0, 7, 4242] {
        assert_eq!(Invoice::sample(seed), Invoice::sample(seed));
        for layout in Layout::ALL {
            assert_eq!(
                pdf(&Invoice::sample(seed), layout),
                pdf(&Invoice::sample(seed), layout),
                "{layout:?} PDF of seed {seed} differs between two runs"
            );
        }
    }
}

#[test]
fn different_seeds_give_different_invoices() {
    let ids: std::collections::BTreeSet<String> = (0..50)
        .map(|seed| Invoice::sample(seed).invoice_id)
        .collect();
    assert!(
        ids.len() > 45,
        "only {} distinct ids in 50 seeds",
        ids.len()
    );
}

#[test]
fn lines_and_tax_add_up_to_the_total_for_200_seeds() {
    for seed in 0..200 {
        let invoice = Invoice::sample(seed);
        let expected = invoice.expected();
        assert_eq!(discrepancy(&expected), 0, "seed {seed}: {expected}");
        let lines = expected["line_items"].as_array().unwrap();
        assert!(
            (1..=5).contains(&lines.len()),
            "seed {seed}: {} lines",
            lines.len()
        );
        for line in lines {
            let product = line["quantity"].as_f64().unwrap() * line["unit_price"].as_f64().unwrap();
            assert_eq!(
                (product * 100.0).round() as i64,
                cents(&line["total"]),
                "seed {seed}: {line}"
            );
        }
        assert!([0, 19, 20].contains(&invoice.tax_rate()), "seed {seed}");
    }
}

#[test]
fn a_wrong_total_no_longer_adds_up() {
    for seed in 0..200 {
        let wrong = Invoice::sample(seed).with_wrong_total().expected();
        assert_ne!(discrepancy(&wrong), 0, "seed {seed}: {wrong}");
    }
}

#[test]
fn expected_fields_have_the_extract_tasks_shape() {
    let (mut with_po, mut without_po) = (0, 0);
    for seed in 0..200 {
        let invoice = Invoice::sample(seed);
        let expected = invoice.expected();
        let keys: Vec<&str> = expected
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        match &invoice.po_number {
            Some(po) => {
                with_po += 1;
                assert_eq!(expected["po_number"], po.as_str());
                assert!(po.starts_with("PO-"), "{po}");
            }
            None => {
                without_po += 1;
                assert!(!keys.contains(&"po_number"), "seed {seed}: {keys:?}");
            }
        }
        for key in ["invoice_id", "amount", "due_date", "tax", "line_items"] {
            assert!(keys.contains(&key), "seed {seed} lacks {key}");
        }
        assert_eq!(expected["amount"]["currency"], invoice.currency.as_str());
        assert_eq!(
            expected["due_date"],
            invoice.due_date.format("%Y-%m-%d").to_string()
        );
        assert!(invoice.due_date > invoice.issue_date);
    }
    assert!(
        with_po > 100 && without_po > 10,
        "{with_po} with a PO, {without_po} without"
    );
}

#[test]
fn amounts_are_json_numbers_with_a_decimal_point() {
    let mut invoice = Invoice::sample(3);
    invoice.total = 1250.0;
    let text = invoice.expected().to_string();
    assert!(text.contains(r#""value":1250.0"#), "{text}");
}

#[test]
fn known_suppliers_mostly_quote_an_open_po() {
    let open = |key: &str| match key {
        "acme-supplies" => vec!["PO-4471", "PO-4480"],
        "globex" => vec!["PO-5102"],
        _ => vec![],
    };
    let (mut known, mut open_po, mut unknown_supplier) = (0, 0, 0);
    for seed in 0..300 {
        let invoice = Invoice::sample(seed);
        let pos = open(&invoice.supplier_key);
        if pos.is_empty() {
            unknown_supplier += 1;
            if let Some(po) = &invoice.po_number {
                assert!(!["PO-4471", "PO-4480", "PO-5102"].contains(&po.as_str()));
            }
            continue;
        }
        known += 1;
        if invoice
            .po_number
            .as_deref()
            .is_some_and(|po| pos.contains(&po))
        {
            open_po += 1;
        }
    }
    assert!(
        unknown_supplier > 50,
        "{unknown_supplier} of 300 from unknown suppliers"
    );
    assert!(
        open_po * 100 > known * 55 && open_po < known,
        "{open_po} of {known}"
    );
}
