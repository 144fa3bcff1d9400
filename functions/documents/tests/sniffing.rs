//! The type comes from the content, and only our four types get in.

use handoff_documents::{check, sniff, Limits, MediaType, Refused};

use crate::fixtures;

#[test]
fn each_accepted_type_is_recognised_by_its_content() {
    assert_eq!(
        sniff(&fixtures::text_pdf(fixtures::INVOICE)),
        Some(MediaType::Pdf)
    );
    assert_eq!(sniff(&fixtures::png(4, 3)), Some(MediaType::Png));
    assert_eq!(sniff(&fixtures::jpeg(4, 3)), Some(MediaType::Jpeg));
    assert_eq!(sniff(&fixtures::tiff(4, 3)), Some(MediaType::Tiff));
}

#[test]
fn anything_else_sniffs_as_nothing() {
    assert_eq!(
        sniff(b"PK\x03\x04\x14\x00\x00\x00\x08\x00invoice.pdf"),
        None
    );
    assert_eq!(
        sniff(b"<!DOCTYPE html><html><body>invoice</body></html>"),
        None
    );
    assert_eq!(sniff(b"MZ\x90\x00\x03\x00\x00\x00"), None);
    assert_eq!(sniff(b"Invoice 42, total 100 EUR"), None);
    assert_eq!(sniff(b""), None);
}

#[test]
fn unsupported_types_are_refused_with_what_they_are() {
    let limits = Limits::default();
    let refused = |bytes: &[u8]| check(bytes, None, &limits).unwrap_err();
    assert_eq!(
        refused(b"PK\x03\x04\x14\x00\x00\x00\x08\x00invoice.pdf"),
        Refused::UnsupportedType {
            sniffed: Some("application/zip")
        }
    );
    assert_eq!(
        refused(b"<!DOCTYPE html><html><body>invoice</body></html>"),
        Refused::UnsupportedType {
            sniffed: Some("text/html")
        }
    );
    assert_eq!(refused(b""), Refused::UnsupportedType { sniffed: None });
    assert!(refused(b"MZ\x90\x00\x03\x00\x00\x00")
        .to_string()
        .contains("PDF, PNG, JPEG or TIFF"));
}

#[test]
fn a_declared_type_does_not_make_a_pdf() {
    let html = b"<html><body>invoice.pdf</body></html>";
    let result = check(html, Some("application/pdf"), &Limits::default());
    assert_eq!(
        result,
        Err(Refused::UnsupportedType {
            sniffed: Some("text/html")
        })
    );
    // A PDF header inside other content (readers look in the first KiB, so
    // sniffing does too) still has to parse as a PDF.
    let html = b"<html><body>%PDF-1.7</body></html>";
    assert!(matches!(
        check(html, Some("application/pdf"), &Limits::default()),
        Err(Refused::Malformed(_))
    ));
}

#[test]
fn media_types_round_trip_through_mime_and_serde() {
    for media_type in [
        MediaType::Pdf,
        MediaType::Png,
        MediaType::Jpeg,
        MediaType::Tiff,
    ] {
        assert_eq!(MediaType::from_mime(media_type.mime()), Some(media_type));
        let json = serde_json::to_string(&media_type).unwrap();
        assert_eq!(
            json,
            format!("\"{}\"", format!("{media_type:?}").to_lowercase())
        );
    }
    assert_eq!(
        MediaType::from_mime("Image/JPG; name=\"scan.jpg\""),
        Some(MediaType::Jpeg)
    );
    assert_eq!(MediaType::from_mime("text/html"), None);
    assert_eq!(MediaType::Jpeg.extension(), "jpg");
}
