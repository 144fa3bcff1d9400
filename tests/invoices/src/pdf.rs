//! PDFs of an invoice: one with a text layer in the standard Helvetica, and
//! one holding only the scan's JPEG, as a copier's "scan to e-mail" makes.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Encoding, Object, ObjectId, Stream, StringFormat};

use crate::fingerprint;
use crate::invoice::Invoice;
use crate::layout::{Align, Layout, PAGE_HEIGHT, PAGE_WIDTH};

const REGULAR: &[u8] = b"F1";
const BOLD: &[u8] = b"F2";

/// A one-page PDF with a text layer: every run of text in its own text
/// object, in reading order, so a text extractor gives one run per line.
pub fn pdf(invoice: &Invoice, layout: Layout) -> Vec<u8> {
    let page = layout.page(invoice);
    let mut ops = Vec::new();
    for rule in &page.rules {
        ops.push(Operation::new("g", vec![rule.grey.into()]));
        ops.push(Operation::new(
            "re",
            vec![
                rule.x.into(),
                (PAGE_HEIGHT - rule.y - rule.height).into(),
                rule.width.into(),
                rule.height.into(),
            ],
        ));
        ops.push(Operation::new("f", vec![]));
    }
    ops.push(Operation::new("g", vec![0.into()]));
    for text in &page.texts {
        let width = helvetica_width(&text.text, text.bold) * text.size / 1000.0;
        let x = match text.align {
            Align::Left => text.x,
            Align::Right => text.x - width,
        };
        let font = if text.bold { BOLD } else { REGULAR };
        ops.push(Operation::new("BT", vec![]));
        ops.push(Operation::new(
            "Tf",
            vec![Object::Name(font.to_vec()), text.size.into()],
        ));
        ops.push(Operation::new(
            "Td",
            vec![x.into(), (PAGE_HEIGHT - text.y).into()],
        ));
        ops.push(Operation::new("Tj", vec![win_ansi(&text.text)]));
        ops.push(Operation::new("ET", vec![]));
    }
    let content = Content { operations: ops }
        .encode()
        .expect("content operations encode");

    let mut doc = Document::with_version("1.5");
    let font = |doc: &mut Document, base: &str| {
        doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => Object::Name(base.as_bytes().to_vec()),
            "Encoding" => "WinAnsiEncoding",
        })
    };
    let regular = font(&mut doc, "Helvetica");
    let bold = font(&mut doc, "Helvetica-Bold");
    let resources = dictionary! {
        "Font" => dictionary! { "F1" => regular, "F2" => bold },
    };
    let contents = doc.add_object(Stream::new(dictionary! {}, content));
    let mut bytes = finish(
        doc,
        resources,
        contents,
        invoice,
        &format!("{}:{}", layout.name(), invoice.invoice_id),
    );
    bytes.shrink_to_fit();
    bytes
}

/// A one-page PDF holding only a greyscale JPEG of the page, stretched to A4.
pub(crate) fn jpeg_pdf(invoice: &Invoice, jpeg: Vec<u8>, width: u32, height: u32) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let image = doc.add_object(
        Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => width as i64,
                "Height" => height as i64,
                "ColorSpace" => "DeviceGray",
                "BitsPerComponent" => 8,
                "Filter" => "DCTDecode",
            },
            jpeg,
        )
        .with_compression(false),
    );
    let content = Content {
        operations: vec![
            Operation::new("q", vec![]),
            Operation::new(
                "cm",
                vec![
                    PAGE_WIDTH.into(),
                    0.into(),
                    0.into(),
                    PAGE_HEIGHT.into(),
                    0.into(),
                    0.into(),
                ],
            ),
            Operation::new("Do", vec![Object::Name(b"Im1".to_vec())]),
            Operation::new("Q", vec![]),
        ],
    }
    .encode()
    .expect("content operations encode");
    let contents = doc.add_object(Stream::new(dictionary! {}, content));
    let resources = dictionary! { "XObject" => dictionary! { "Im1" => image } };
    finish(
        doc,
        resources,
        contents,
        invoice,
        &format!("scan:{}", invoice.invoice_id),
    )
}

/// Page tree, catalog, and metadata fixed by the invoice (no clock, no
/// random file ID), so the same invoice gives the same bytes.
fn finish(
    mut doc: Document,
    resources: lopdf::Dictionary,
    contents: ObjectId,
    invoice: &Invoice,
    identity: &str,
) -> Vec<u8> {
    let pages_id = doc.new_object_id();
    let page = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), PAGE_WIDTH.into(), PAGE_HEIGHT.into()],
        "Resources" => resources,
        "Contents" => contents,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => vec![page.into()],
            "Count" => 1,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    let created = format!("D:{}090000Z", invoice.issue_date.format("%Y%m%d"));
    let info = doc.add_object(dictionary! {
        "Title" => Object::string_literal(format!("Invoice {}", invoice.invoice_id)),
        "Author" => win_ansi(&invoice.supplier),
        "Creator" => Object::string_literal("handoff-invoices"),
        "CreationDate" => Object::string_literal(created.clone()),
        "ModDate" => Object::string_literal(created),
    });
    let id = fingerprint(identity.as_bytes());
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    doc.trailer.set(
        "ID",
        vec![
            Object::String(id.to_vec(), StringFormat::Hexadecimal),
            Object::String(id.to_vec(), StringFormat::Hexadecimal),
        ],
    );
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("writing to memory");
    out
}

/// A string in the standard fonts' WinAnsiEncoding (€, £, ü, ß and · have
/// codes there).
fn win_ansi(text: &str) -> Object {
    Object::String(
        Encoding::SimpleEncoding(b"WinAnsiEncoding").string_to_bytes(text),
        StringFormat::Literal,
    )
}

/// Text width in thousandths of the font size, from the standard 14 fonts'
/// metrics (Adobe's Helvetica AFM), which every viewer uses for Helvetica.
fn helvetica_width(text: &str, bold: bool) -> f32 {
    text.chars()
        .map(|c| {
            let code = c as u32;
            let ascii = if (32..=126).contains(&code) {
                let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
                Some(table[(code - 32) as usize])
            } else {
                None
            };
            ascii.unwrap_or(match c {
                '·' => 278,
                'ß' => 611,
                'ü' | 'ö' if bold => 611,
                'Ü' | 'Ö' => 722 + 56 * bold as u16,
                _ => 556,
            }) as f32
        })
        .sum()
}

#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helvetica_digits_are_all_the_same_width() {
        assert_eq!(helvetica_width("0123456789", false), 5560.0);
        assert_eq!(helvetica_width("0123456789", true), 5560.0);
        assert_eq!(helvetica_width("A a", false), 667.0 + 278.0 + 556.0);
    }
}
