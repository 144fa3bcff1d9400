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
    assert_refused_as_bomb(&object_stream_pdf(1, 4, &fixtures::zlib_bomb(GIB)));
}

#[test]
fn an_object_stream_whose_index_points_many_times_into_one_array_is_refused() {
    // Twenty thousand entries at offset 0, a 400 KB array there: lopdf would
    // parse the array for each entry (18 GB). Dropped before it does.
    let entries = 20_000;
    let mut content: Vec<u8> = (0..entries)
        .flat_map(|i| format!("{} 0 ", i + 10).into_bytes())
        .collect();
    let first = content.len();
    content.push(b'[');
    content.extend(b"0 ".repeat(200_000));
    content.push(b']');
    let pdf = object_stream_pdf(entries, first, &fixtures::zlib(&content));
    let started = Instant::now();
    let (result, peak) = peak_during(|| check(&pdf, None, &Limits::default()));
    assert!(matches!(result, Err(Refused::Malformed(_))), "{result:?}");
    assert!(peak < 64 * MIB, "held {peak} bytes at once");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

/// A PDF whose catalog (object 3) is the first object of object stream 1,
/// found through a cross-reference stream (2). By hand: lopdf compresses
/// the object streams it writes itself.
pub(crate) fn object_stream_pdf(entries: usize, first: usize, flate: &[u8]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.5\n".to_vec();
    let objstm_at = pdf.len();
    pdf.extend_from_slice(
        format!(
            "1 0 obj\n<< /Type /ObjStm /N {entries} /First {first} /Filter /FlateDecode /Length {} >>\nstream\n",
            flate.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(flate);
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
    pdf
}

#[test]
fn a_well_formed_object_stream_still_loads() {
    let catalog = b"<< /Type /Catalog /Pages 4 0 R >>";
    let pages = b"<< /Type /Pages /Kids [] /Count 0 >>";
    let mut content = format!("3 0 4 {} ", catalog.len() + 1).into_bytes();
    let first = content.len();
    content.extend_from_slice(catalog);
    content.push(b' ');
    content.extend_from_slice(pages);
    let pdf = object_stream_pdf(2, first, &fixtures::zlib(&content));
    // It loads (and has no pages): the check let the object stream through.
    assert_eq!(
        check(&pdf, None, &Limits::default()),
        Err(Refused::Malformed("the PDF has no pages".into()))
    );
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
