//! Compression bombs are refused quickly and without inflating them.

use std::time::{Duration, Instant};

use handoff_documents::{check, read, Limits, Refused};
use lopdf::{dictionary, Object, Stream};

use crate::allocations::peak_during;
use crate::fixtures::{self, Fixture};

const GIB: usize = 1 << 30;
const MIB: usize = 1 << 20;

/// Refused as a bomb by `check` and `read`, in well under the time and a
/// small fraction of the memory inflating it would take.
fn assert_refused_as_bomb(pdf: &[u8]) {
    let limits = Limits::default();
    for run in [
        (|pdf: &[u8], limits: &Limits| check(pdf, None, limits).map(drop))
            as fn(&[u8], &Limits) -> Result<(), Refused>,
        |pdf, limits| read(pdf, limits).map(drop),
    ] {
        let started = Instant::now();
        let (result, peak) = peak_during(|| run(pdf, &limits));
        assert_eq!(
            result,
            Err(Refused::TooLargeWhenInflated {
                limit: limits.max_inflated_bytes
            })
        );
        assert!(peak < 8 * MIB, "held {peak} bytes at once");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_page_content_stream_that_inflates_to_a_gibibyte_is_refused() {
    let mut doc = fixtures::document(&[Fixture::Text(fixtures::INVOICE[0])]);
    let page_id = doc.page_iter().next().unwrap();
    let bomb = doc.add_object(Stream::new(
        dictionary! { "Filter" => "FlateDecode" },
        fixtures::zlib_bomb(GIB),
    ));
    doc.get_dictionary_mut(page_id)
        .unwrap()
        .set("Contents", bomb);
    assert_refused_as_bomb(&fixtures::save(&mut doc));
}

#[test]
fn an_object_stream_that_inflates_to_a_gibibyte_is_refused() {
    // By hand: lopdf writes object streams it compresses itself. The
    // catalog lives in object stream 1, which is the bomb; the
    // cross-reference stream (2) says so.
    let bomb = fixtures::zlib_bomb(GIB);
    let mut pdf = b"%PDF-1.5\n".to_vec();
    let objstm_at = pdf.len();
    pdf.extend_from_slice(
        format!(
            "1 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length {} >>\nstream\n",
            bomb.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&bomb);
    pdf.extend_from_slice(b"\nendstream\nendobj\n");
    let xref_at = pdf.len();
    let mut rows = Vec::new();
    for (kind, field2, field3) in [
        (0u8, 0u32, 65535u16),
        (1, objstm_at as u32, 0),
        (1, xref_at as u32, 0),
        (2, 1, 0),
    ] {
        rows.push(kind);
        rows.extend_from_slice(&field2.to_be_bytes());
        rows.extend_from_slice(&field3.to_be_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "2 0 obj\n<< /Type /XRef /Size 4 /W [1 4 2] /Root 3 0 R /Length {} >>\nstream\n",
            rows.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&rows);
    pdf.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    assert_refused_as_bomb(&pdf);
}

#[test]
fn a_bomb_nested_in_two_flate_layers_is_refused() {
    let mut doc = fixtures::document(&[Fixture::Text(fixtures::INVOICE[0])]);
    let page_id = doc.page_iter().next().unwrap();
    let inner = fixtures::zlib_bomb(GIB);
    let outer = fixtures::zlib(&inner);
    let filters = vec![Object::from("FlateDecode"), Object::from("FlateDecode")];
    let bomb = doc.add_object(Stream::new(dictionary! { "Filter" => filters }, outer));
    doc.get_dictionary_mut(page_id)
        .unwrap()
        .set("Contents", bomb);
    assert_refused_as_bomb(&fixtures::save(&mut doc));
}

#[test]
fn streams_each_under_the_limit_but_over_it_together_are_refused() {
    let mut doc = fixtures::document(&[Fixture::Text(fixtures::INVOICE[0])]);
    let page_id = doc.page_iter().next().unwrap();
    let parts: Vec<Object> = (0..3)
        .map(|_| {
            Object::from(doc.add_object(Stream::new(
                dictionary! { "Filter" => "FlateDecode" },
                fixtures::zlib_bomb(30 * MIB),
            )))
        })
        .collect();
    doc.get_dictionary_mut(page_id)
        .unwrap()
        .set("Contents", parts);
    assert_refused_as_bomb(&fixtures::save(&mut doc));
}

#[test]
fn a_legitimate_pdf_is_well_within_the_budget() {
    let limits = Limits {
        max_inflated_bytes: 64 * 1024,
        ..Limits::default()
    };
    assert!(read(&fixtures::text_pdf(fixtures::INVOICE), &limits).is_ok());
}
