//! Files that are not what they claim: refused, never a panic.

use handoff_documents::{check, read, Limits, Refused};

use crate::fixtures;

fn assert_malformed(bytes: &[u8]) {
    let limits = Limits::default();
    for refused in [
        check(bytes, None, &limits).unwrap_err(),
        read(bytes, &limits).unwrap_err(),
    ] {
        assert!(matches!(refused, Refused::Malformed(_)), "{refused:?}");
        assert_eq!(refused.code(), "malformed");
    }
}

#[test]
fn a_truncated_pdf_is_malformed() {
    let pdf = fixtures::text_pdf(fixtures::INVOICE);
    // Cut before the catalog, which lopdf writes last: nothing to rebuild from.
    let cut = pdf.windows(8).position(|w| w == b"/Catalog").unwrap() - 20;
    assert_malformed(&pdf[..cut]);
    assert_malformed(&pdf[..20]);
}

#[test]
fn garbage_after_the_header_is_malformed() {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state = 0x2545_4446_u32;
    bytes.extend((0..4096).map(|_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as u8
    }));
    assert_malformed(&bytes);
    assert_malformed(b"%PDF-");
}

#[test]
fn a_broken_xref_is_rebuilt_from_the_objects_when_they_are_intact() {
    let mut pdf = fixtures::text_pdf(fixtures::INVOICE);
    break_xref(&mut pdf);
    let layout = read(&pdf, &Limits::default()).unwrap();
    assert!(layout.text().unwrap().contains("INV-2024-0042"));
}

#[test]
fn a_broken_xref_with_no_objects_to_rebuild_from_is_malformed() {
    let mut pdf = fixtures::text_pdf(fixtures::INVOICE);
    break_xref(&mut pdf);
    // And no object header left for a rebuild to find.
    for at in 0..pdf.len() - 3 {
        if &pdf[at..at + 3] == b"obj" {
            pdf[at..at + 3].copy_from_slice(b"jbo");
        }
    }
    assert_malformed(&pdf);
}

#[test]
fn a_refusal_does_not_quote_the_document() {
    let mut bytes = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R /Secret (TOP-SECRET-PAYROLL) >> endobj\n".to_vec();
    bytes.extend_from_slice(b"trailer << /Root 1 0 R /Secret (TOP-SECRET-PAYROLL) >>\n%%EOF");
    let refused = check(&bytes, None, &Limits::default()).unwrap_err();
    let message = refused.to_string();
    assert!(!message.contains("SECRET"), "{message}");
    assert!(message.len() < 260, "{message}");
}

#[test]
fn a_pdf_of_only_a_header_and_a_trailer_is_malformed_not_empty() {
    assert_malformed(b"%PDF-1.4\ntrailer << /Root << /Type /Catalog >> >>\n%%EOF");
}

/// Points `startxref` into the header and blanks the cross-reference
/// stream's rows.
fn break_xref(pdf: &mut Vec<u8>) {
    let xref = pdf.windows(10).rposition(|w| w == b"/Type/XRef").unwrap();
    let rows = xref
        + pdf[xref..]
            .windows(7)
            .position(|w| w == b"stream\n")
            .unwrap()
        + 7;
    pdf[rows..rows + 20].fill(b'#');
    let startxref = pdf.windows(9).rposition(|w| w == b"startxref").unwrap();
    pdf.truncate(startxref);
    pdf.extend_from_slice(b"startxref\n12\n%%EOF\n");
}
