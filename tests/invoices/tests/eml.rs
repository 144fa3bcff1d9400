use handoff_invoices::{eml, pdf, Invoice, Layout, AP_INBOX};
use mail_parser::{MessageParser, MimeHeaders};

fn message_for(seed: u64, authenticated: Option<&str>) -> (Invoice, Vec<u8>, Vec<u8>) {
    let invoice = Invoice::sample(seed);
    let document = pdf(&invoice, Layout::Classic);
    let message = eml(
        &invoice,
        ("invoice.pdf", "application/pdf", &document),
        authenticated,
    );
    (invoice, document, message)
}

#[test]
fn the_mail_carries_the_pdf_as_its_one_attachment() {
    for seed in 0..10 {
        let (invoice, document, raw) = message_for(seed, None);
        let message = MessageParser::default()
            .parse(&raw)
            .expect("the message parses");
        assert_eq!(message.attachment_count(), 1, "seed {seed}");
        let attachment = message.attachment(0).unwrap();
        assert_eq!(attachment.contents(), document.as_slice(), "seed {seed}");
        assert_eq!(attachment.attachment_name(), Some("invoice.pdf"));
        let content_type = attachment.content_type().unwrap();
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("application", Some("pdf"))
        );

        let from = message.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some(invoice.supplier.as_str()), "seed {seed}");
        assert_eq!(
            from.address(),
            Some(format!("billing@{}", invoice.supplier_domain()).as_str())
        );
        assert_eq!(
            message.to().unwrap().first().unwrap().address(),
            Some(AP_INBOX)
        );
        assert!(message.subject().unwrap().contains(&invoice.invoice_id));
        assert!(message.message_id().is_some());
        assert!(message.date().is_some());
        let body = message.body_text(0).unwrap();
        assert!(body.contains("Please find our invoice attached."), "{body}");
        assert!(body.contains(&invoice.supplier), "{body}");
        assert!(message.header("Authentication-Results").is_none());
    }
}

#[test]
fn an_authenticated_mail_says_spf_dkim_and_dmarc_passed() {
    let (invoice, _, raw) = message_for(1, Some("mx.finance.example.com"));
    let message = MessageParser::default()
        .parse(&raw)
        .expect("the message parses");
    let results = message
        .header_raw("Authentication-Results")
        .expect("an Authentication-Results header");
    let unfolded = results.split_whitespace().collect::<Vec<_>>().join(" ");
    let domain = invoice.supplier_domain();
    assert!(
        unfolded.starts_with("mx.finance.example.com;"),
        "{unfolded}"
    );
    for wanted in [
        format!("spf=pass smtp.mailfrom={domain};"),
        format!("dkim=pass header.d={domain}"),
        format!("dmarc=pass header.from={domain}"),
    ] {
        assert!(unfolded.contains(&wanted), "{wanted} not in {unfolded}");
    }
    assert_eq!(message.attachment_count(), 1);
}

#[test]
fn the_same_mail_built_twice_is_the_same_delivery() {
    let (_, _, first) = message_for(2, None);
    let (_, _, second) = message_for(2, None);
    assert_eq!(first, second);
    let (_, _, other) = message_for(3, None);
    let id = |raw: &[u8]| {
        MessageParser::default()
            .parse(raw)
            .unwrap()
            .message_id()
            .unwrap()
            .to_string()
    };
    assert_ne!(id(&first), id(&other));
}
