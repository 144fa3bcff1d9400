//! What `check` refuses before anything reads the document.

use handoff_documents::{check, Limits, MediaType, Refused};
use lopdf::{dictionary, Object};

use crate::fixtures::{self, Fixture};

#[test]
fn an_invoice_pdf_passes_intake() {
    let pdf = fixtures::text_pdf(fixtures::INVOICE);
    assert_eq!(
        check(&pdf, Some("application/pdf"), &Limits::default()),
        Ok(MediaType::Pdf)
    );
}

#[test]
fn images_pass_intake_as_their_type() {
    let limits = Limits::default();
    assert_eq!(
        check(&fixtures::png(30, 20), Some("image/png"), &limits),
        Ok(MediaType::Png)
    );
    assert_eq!(
        check(&fixtures::jpeg(30, 20), Some("image/jpeg"), &limits),
        Ok(MediaType::Jpeg)
    );
    assert_eq!(
        check(&fixtures::tiff(30, 20), None, &limits),
        Ok(MediaType::Tiff)
    );
}

#[test]
fn a_png_declared_as_a_pdf_is_a_mismatch() {
    let refused = check(
        &fixtures::png(4, 4),
        Some("application/pdf"),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        refused,
        Refused::TypeMismatch {
            declared: "application/pdf".into(),
            sniffed: MediaType::Png
        }
    );
    assert_eq!(refused.code(), "type_mismatch");
}

#[test]
fn a_pdf_declared_as_something_specific_and_different_is_a_mismatch() {
    let pdf = fixtures::text_pdf(fixtures::INVOICE);
    assert!(matches!(
        check(&pdf, Some("text/html"), &Limits::default()),
        Err(Refused::TypeMismatch {
            sniffed: MediaType::Pdf,
            ..
        })
    ));
}

#[test]
fn generic_or_aliased_declarations_are_no_mismatch() {
    let limits = Limits::default();
    let pdf = fixtures::text_pdf(fixtures::INVOICE);
    for declared in [
        "application/octet-stream",
        "binary/octet-stream",
        "",
        "Application/PDF; name=\"inv.pdf\"",
    ] {
        assert_eq!(
            check(&pdf, Some(declared), &limits),
            Ok(MediaType::Pdf),
            "{declared}"
        );
    }
    assert_eq!(
        check(&fixtures::jpeg(8, 8), Some("image/jpg"), &limits),
        Ok(MediaType::Jpeg)
    );
}

#[test]
fn an_attachment_over_the_size_limit_is_refused_before_parsing() {
    let limits = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(1001, b' ');
    let refused = check(&big, None, &limits).unwrap_err();
    assert_eq!(
        refused,
        Refused::TooLarge {
            bytes: 1001,
            limit: 1000
        }
    );
    assert_eq!(refused.code(), "too_large");
}

#[test]
fn a_pdf_with_more_pages_than_the_limit_is_refused() {
    let page: fixtures::TextPage = &[&["A page of an invoice with enough words on it"]];
    let pdf = fixtures::text_pdf(&[page; 3]);
    let limits = Limits {
        max_pages: 2,
        ..Limits::default()
    };
    assert_eq!(
        check(&pdf, None, &limits),
        Err(Refused::TooManyPages { pages: 3, limit: 2 })
    );
    let at_limit = Limits {
        max_pages: 3,
        ..Limits::default()
    };
    assert_eq!(check(&pdf, None, &at_limit), Ok(MediaType::Pdf));
}

#[test]
fn an_encrypted_pdf_is_refused() {
    let mut doc = fixtures::document(&[Fixture::Text(fixtures::INVOICE[0])]);
    let encrypt = doc.add_object(dictionary! {
        "Filter" => "Standard",
        "V" => 1,
        "R" => 2,
        "O" => Object::string_literal(vec![1u8; 32]),
        "U" => Object::string_literal(vec![2u8; 32]),
        "P" => -44,
    });
    doc.trailer.set("Encrypt", encrypt);
    doc.trailer.set(
        "ID",
        vec![
            Object::string_literal(vec![3u8; 16]),
            Object::string_literal(vec![3u8; 16]),
        ],
    );
    let pdf = fixtures::save(&mut doc);
    let refused = check(&pdf, None, &Limits::default()).unwrap_err();
    assert_eq!(refused, Refused::Encrypted);
    assert_eq!(refused.code(), "encrypted");
}

#[test]
fn an_image_whose_header_claims_ten_gigapixels_is_refused() {
    let png = fixtures::png_header(100_000, 100_000);
    let refused = check(&png, Some("image/png"), &Limits::default()).unwrap_err();
    assert!(
        matches!(refused, Refused::TooLargeWhenInflated { .. }),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "too_large_when_inflated");
}

#[test]
fn an_image_at_the_pixel_limit_passes() {
    let limits = Limits {
        max_image_pixels: 600,
        ..Limits::default()
    };
    assert_eq!(
        check(&fixtures::png(30, 20), None, &limits),
        Ok(MediaType::Png)
    );
    assert!(check(&fixtures::png(31, 20), None, &limits).is_err());
}

#[test]
fn every_refusal_has_a_stable_code() {
    let codes = [
        Refused::TooLarge { bytes: 2, limit: 1 }.code(),
        Refused::UnsupportedType { sniffed: None }.code(),
        Refused::TypeMismatch {
            declared: "a/b".into(),
            sniffed: MediaType::Pdf,
        }
        .code(),
        Refused::Malformed("x".into()).code(),
        Refused::TooManyPages { pages: 2, limit: 1 }.code(),
        Refused::TooLargeWhenInflated { limit: 1 }.code(),
        Refused::Encrypted.code(),
    ];
    assert_eq!(
        codes,
        [
            "too_large",
            "unsupported_type",
            "type_mismatch",
            "malformed",
            "too_many_pages",
            "too_large_when_inflated",
            "encrypted"
        ]
    );
}
