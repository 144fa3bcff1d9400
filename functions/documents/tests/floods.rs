//! Files that make the PDF parser build far more than they weigh: every
//! number in `[0 0 0 ...]` costs two bytes to write and tens of bytes as a
//! parsed object. Refused before the parser builds them, and in a small
//! multiple of the file's size.

use std::time::{Duration, Instant};

use handoff_documents::{check, page_image, read, Limits, Refused};
use lopdf::Object;

use crate::allocations::peak_during;
use crate::fixtures::{self, Fixture};

const MIB: usize = 1 << 20;

/// `[0 0 0 ...]` with `count` zeros.
fn zeros(count: usize) -> Vec<u8> {
    let mut array = b"[".to_vec();
    array.extend(b"0 ".repeat(count));
    array.push(b']');
    array
}

/// Refused as malformed by `check`, `read` and `page_image`, holding less
/// than `max_peak` bytes at once, in seconds.
fn assert_refused_within(pdf: &[u8], max_peak: usize) {
    let limits = Limits::default();
    for run in [
        (|pdf: &[u8], limits: &Limits| check(pdf, None, limits).map(drop))
            as fn(&[u8], &Limits) -> Result<(), Refused>,
        |pdf, limits| read(pdf, limits).map(drop),
        |pdf, limits| page_image(pdf, 1, limits).map(drop),
    ] {
        let started = Instant::now();
        let (result, peak) = peak_during(|| run(pdf, &limits));
        assert!(matches!(result, Err(Refused::Malformed(_))), "{result:?}");
        assert!(peak < max_peak, "held {peak} bytes at once");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn an_array_of_millions_of_numbers_in_the_file_is_refused() {
    // 8 MB on the wire, under the 10 MiB limit; read, it held 500 MB.
    let mut doc = fixtures::document(&[Fixture::Text(fixtures::INVOICE[0])]);
    let page_id = doc.page_iter().next().unwrap();
    let flood = doc.add_object(Object::Array(vec![Object::Integer(0); 4_000_000]));
    doc.get_dictionary_mut(page_id).unwrap().set("Flood", flood);
    let pdf = fixtures::save(&mut doc);
    assert!(pdf.len() < Limits::default().max_bytes);
    assert_refused_within(&pdf, 3 * pdf.len());
}

#[test]
fn an_array_of_millions_of_numbers_in_an_object_stream_is_refused() {
    // 260 KB compressed, 60 MB inflated (under the 64 MiB budget); checked,
    // it held 8 GB.
    let catalog = b"<< /Type /Catalog /Pages 4 0 R >>";
    let mut content = format!("3 0 4 {} ", catalog.len() + 1).into_bytes();
    let first = content.len();
    content.extend_from_slice(catalog);
    content.push(b' ');
    content.extend(zeros(30_000_000));
    let pdf = crate::bombs::object_stream_pdf(2, first, &fixtures::zlib(&content));
    drop(content);
    assert_refused_within(&pdf, inflated_and_a_little());
}

#[test]
fn a_stream_keyword_in_an_object_stream_hides_nothing() {
    // No stream is in an object stream, so its parser does not skip data
    // after the keyword: neither does the count.
    let catalog = b"<< /Type /Catalog /Pages 4 0 R >>";
    let mut content = format!("3 0 4 {} ", catalog.len() + 1).into_bytes();
    let first = content.len();
    content.extend_from_slice(catalog);
    content.extend_from_slice(b" stream\n");
    content.extend(zeros(1_500_000));
    let pdf = crate::bombs::object_stream_pdf(2, first, &fixtures::zlib(&content));
    let (result, _) = peak_during(|| check(&pdf, None, &Limits::default()));
    assert_eq!(
        result,
        Err(Refused::Malformed(
            "the PDF has more than 1000000 objects".into()
        ))
    );
}

#[test]
fn a_document_of_many_objects_of_a_few_numbers_is_refused() {
    // The same flood spread over many small objects of an object stream:
    // 40 MB inflated; checked, it held 6 GB.
    let mut content = Vec::new();
    let mut index = String::new();
    let objects = 200_000;
    for number in 0..objects {
        index.push_str(&format!("{} {} ", number + 10, content.len()));
        content.extend(zeros(100));
        content.push(b' ');
    }
    let first = index.len();
    let content = [index.into_bytes(), content].concat();
    let pdf = crate::bombs::object_stream_pdf(objects, first, &fixtures::zlib(&content));
    drop(content);
    assert_refused_within(&pdf, inflated_and_a_little());
}

/// What an object stream is checked in: its content, which may inflate up
/// to the budget for the whole document, and a little more.
fn inflated_and_a_little() -> usize {
    Limits::default().max_inflated_bytes + 8 * MIB
}

#[test]
fn a_long_invoice_is_well_under_the_bound() {
    let pages: Vec<Fixture> = (0..50)
        .map(|_| Fixture::Text(fixtures::INVOICE[0]))
        .collect();
    let pdf = fixtures::pdf(&pages);
    assert_eq!(read(&pdf, &Limits::default()).unwrap().pages.len(), 50);
}

#[test]
fn a_page_drawing_one_operation_of_millions_of_operands_is_refused() {
    // A content stream is read one operation at a time, but an operation
    // holds all its operands: 60 MB of zeros before one `Tj` (read, it held
    // 4 GB).
    let mut doc = fixtures::document(&[Fixture::Text(fixtures::INVOICE[0])]);
    let page_id = doc.page_iter().next().unwrap();
    let mut content = b"BT /F1 12 Tf ".to_vec();
    content.extend(b"0 ".repeat(30_000_000));
    content.extend_from_slice(b"(x) Tj ET");
    let flood = doc.add_object(lopdf::Stream::new(
        lopdf::dictionary! { "Filter" => "FlateDecode" },
        fixtures::zlib(&content),
    ));
    drop(content);
    doc.get_dictionary_mut(page_id)
        .unwrap()
        .set("Contents", flood);
    let pdf = fixtures::save(&mut doc);
    let (result, peak) = peak_during(|| read(&pdf, &Limits::default()).map(drop));
    assert!(
        matches!(result, Err(Refused::Malformed(_))),
        "{result:?}, held {peak} bytes at once"
    );
    // The content, inflated and then joined into the page's (lopdf copies
    // it), and no more.
    let twice_inflated = inflated_and_a_little() + Limits::default().max_inflated_bytes;
    assert!(peak < twice_inflated, "held {peak} bytes at once");
}
