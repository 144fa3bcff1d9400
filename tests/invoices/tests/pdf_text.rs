use handoff_invoices::{pdf, Invoice, Layout};

#[test]
fn every_layouts_text_layer_reads_back_id_supplier_and_total() {
    for seed in 0..12 {
        let invoice = Invoice::sample(seed);
        for layout in Layout::ALL {
            let doc = lopdf::Document::load_mem(&pdf(&invoice, layout)).expect("the PDF parses");
            assert_eq!(doc.get_pages().len(), 1);
            let text = doc.extract_text(&[1]).expect("text extracts");
            let total = layout.amount(&invoice.currency, invoice.total);
            for wanted in [&invoice.invoice_id, &invoice.supplier, &total] {
                assert!(
                    text.contains(wanted.as_str()),
                    "{layout:?}, seed {seed}: {wanted:?} not in\n{text}"
                );
            }
        }
    }
}

#[test]
fn layouts_print_the_same_fields_differently() {
    let invoice = Invoice::sample(5);
    let texts: Vec<String> = Layout::ALL
        .iter()
        .map(|layout| {
            lopdf::Document::load_mem(&pdf(&invoice, *layout))
                .unwrap()
                .extract_text(&[1])
                .unwrap()
        })
        .collect();
    for (text, label) in texts
        .iter()
        .zip(["Invoice No.", "Invoice #", "Bill number"])
    {
        assert!(text.contains(label), "{label:?} not in\n{text}");
    }
    for (text, layout) in texts.iter().zip(Layout::ALL) {
        assert!(text.contains(&layout.date(invoice.due_date)));
    }
    assert_ne!(
        Layout::Classic.date(invoice.due_date),
        Layout::TwoColumn.date(invoice.due_date)
    );
}
