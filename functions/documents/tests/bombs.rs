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

/// A PDF of `objects` written out in full and `compressed` ones (number,
/// object stream, index) found in object streams, indexed by a
/// cross-reference stream; object 3 is the catalog.
fn xref_stream_pdf(objects: &[(u32, Vec<u8>)], compressed: &[(u32, u32, u16)]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.5\n".to_vec();
    let mut rows: Vec<(u32, u8, u32, u16)> = vec![(0, 0, 0, 65535)];
    for (number, body) in objects {
        rows.push((*number, 1, pdf.len() as u32, 0));
        pdf.extend_from_slice(format!("{number} 0 obj\n").as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    rows.extend(compressed.iter().map(|&(n, stream, i)| (n, 2, stream, i)));
    let xref_number = rows.iter().map(|row| row.0).max().unwrap() + 1;
    let xref_at = pdf.len();
    rows.push((xref_number, 1, xref_at as u32, 0));
    rows.sort();
    let mut data = Vec::new();
    let mut index = String::new();
    for (number, kind, field2, field3) in rows {
        index.push_str(&format!("{number} 1 "));
        data.push(kind);
        data.extend_from_slice(&field2.to_be_bytes());
        data.extend_from_slice(&field3.to_be_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "{xref_number} 0 obj\n<< /Type /XRef /Size {} /Index [{index}] /W [1 4 2] /Root 3 0 R /Length {} >>\nstream\n",
            xref_number + 1,
            data.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(&data);
    pdf.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    pdf
}

#[test]
fn an_object_stream_opened_to_find_a_streams_length_is_checked_too() {
    // Object 2's `/Length 5 0 R` is in object stream 1, whose index points
    // forty entries at one array of 100,000 numbers: resolving the length
    // would parse the array forty times (about 200 MB). Refused first.
    let entries: u32 = 40;
    let mut index = String::from("5 0 ");
    for number in 0..entries {
        index.push_str(&format!("{} 3 ", number + 10));
    }
    let first = index.len();
    let mut content = index.into_bytes();
    content.extend_from_slice(b"42 [");
    content.extend(b"0 ".repeat(100_000));
    content.push(b']');
    let flate = fixtures::zlib(&content);
    let mut objstm = format!(
        "<< /Type /ObjStm /N {} /First {first} /Filter /FlateDecode /Length {} >>\nstream\n",
        entries + 1,
        flate.len()
    )
    .into_bytes();
    objstm.extend_from_slice(&flate);
    objstm.extend_from_slice(b"\nendstream");
    let text = b"BT /F1 12 Tf 20 100 Td (Invoice 42 total) Tj ET";
    let mut contents = b"<< /Length 5 0 R >>\nstream\n".to_vec();
    contents.extend_from_slice(&text[..42]);
    contents.extend_from_slice(b"\nendstream");
    let mut compressed = vec![(5, 1, 0)];
    compressed.extend((0..entries).map(|i| (i + 10, 1, i as u16 + 1)));
    let pdf = xref_stream_pdf(
        &[
            (1, objstm),
            (2, contents),
            (3, b"<< /Type /Catalog /Pages 4 0 R >>".to_vec()),
            (4, b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>".to_vec()),
            (
                6,
                b"<< /Type /Page /Parent 4 0 R /MediaBox [0 0 200 200] /Contents 2 0 R >>".to_vec(),
            ),
        ],
        &compressed,
    );
    for run in [
        (|pdf: &[u8]| check(pdf, None, &Limits::default()).map(drop))
            as fn(&[u8]) -> Result<(), Refused>,
        |pdf| read(pdf, &Limits::default()).map(drop),
    ] {
        let (result, peak) = peak_during(|| run(&pdf));
        assert!(matches!(result, Err(Refused::Malformed(_))), "{result:?}");
        assert!(peak < 16 * MIB, "held {peak} bytes at once");
    }
}

#[test]
fn a_stream_whose_length_is_an_object_of_its_own_still_reads() {
    // What pdfTeX writes: each content stream's length in the object after it.
    let text = b"BT /F1 12 Tf 20 100 Td (Invoice INV-2024-0042, total due 100.00 EUR) Tj ET";
    let mut contents = b"<< /Length 7 0 R >>\nstream\n".to_vec();
    contents.extend_from_slice(text);
    contents.extend_from_slice(b"\nendstream");
    let pdf = xref_stream_pdf(
        &[
            (2, contents),
            (3, b"<< /Type /Catalog /Pages 4 0 R >>".to_vec()),
            (4, b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>".to_vec()),
            (
                6,
                b"<< /Type /Page /Parent 4 0 R /MediaBox [0 0 400 200] /Contents 2 0 R /Resources << /Font << /F1 8 0 R >> >> >>".to_vec(),
            ),
            (7, text.len().to_string().into_bytes()),
            (
                8,
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
            ),
        ],
        &[],
    );
    let layout = read(&pdf, &Limits::default()).unwrap();
    assert!(
        layout.text().unwrap().contains("INV-2024-0042"),
        "{layout:?}"
    );
}

#[test]
fn many_cross_reference_entries_on_one_large_object_are_refused_quickly() {
    // lopdf parses an object once per entry giving its offset: a thousand
    // entries on one array of 200,000 numbers would parse it a thousand
    // times. The parse stops once the objects parsed pass the bound.
    let entries = 1000;
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = vec![pdf.len()];
    pdf.extend_from_slice(b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
    offsets.push(pdf.len());
    pdf.extend_from_slice(b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n");
    let array = pdf.len();
    pdf.extend_from_slice(b"3 0 obj [");
    pdf.extend(b"0 ".repeat(200_000));
    pdf.extend_from_slice(b"] endobj\n");
    offsets.extend(std::iter::repeat_n(array, entries));
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
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
