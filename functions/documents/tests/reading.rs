//! `read`: each page's text layer, or the image to OCR.

use handoff_documents::{read, sniff, Layout, Limits, MediaType, PageContent, PageImage};
use lopdf::dictionary;

use crate::fixtures::{self, Fixture};

fn page_texts(layout: &Layout) -> Vec<&str> {
    layout
        .pages
        .iter()
        .map(|page| match &page.content {
            PageContent::Text(text) => text.as_str(),
            other => panic!("page {} is {other:?}", page.number),
        })
        .collect()
}

fn image_of(layout: &Layout, number: usize) -> &PageImage {
    match &layout.pages[number - 1].content {
        PageContent::Image(image) => image,
        other => panic!("page {number} is {other:?}"),
    }
}

#[test]
fn invoice_text_comes_back_page_by_page() {
    let layout = read(&fixtures::text_pdf(fixtures::INVOICE), &Limits::default()).unwrap();
    assert_eq!(layout.media_type, MediaType::Pdf);
    assert_eq!(
        layout.pages.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2]
    );
    let pages = page_texts(&layout);
    assert!(
        pages[0].contains("Invoice number: INV-2024-0042"),
        "{}",
        pages[0]
    );
    assert!(
        pages[0].contains("Bill to: Acme Corporation"),
        "{}",
        pages[0]
    );
    assert!(
        pages[1].contains("Payment terms: 30 days net"),
        "{}",
        pages[1]
    );
    assert!(!pages[0].contains("Total due"));
}

#[test]
fn each_drawn_line_is_a_line_and_columns_are_spaced() {
    let layout = read(&fixtures::text_pdf(fixtures::INVOICE), &Limits::default()).unwrap();
    let pages = page_texts(&layout);
    let lines: Vec<&str> = pages[0].lines().collect();
    assert_eq!(
        lines,
        [
            "INVOICE",
            "Invoice number: INV-2024-0042",
            "Bill to: Acme Corporation",
            "Description Qty Amount",
            "Consulting services 10 1,000.00",
        ]
    );
    assert_eq!(pages[1].lines().next(), Some("Total due: 1,234.56 EUR"));
}

#[test]
fn winansi_characters_are_decoded() {
    let page: fixtures::TextPage = &[&["Rechnung für Müller GmbH, Straße 5"]];
    let mut doc = fixtures::document(&[Fixture::Text(page)]);
    // The literal above went in as UTF-8; write it as WinAnsi, as a producer would.
    for object in doc.objects.values_mut() {
        if let Ok(stream) = object.as_stream_mut() {
            let winansi: Vec<u8> = String::from_utf8_lossy(&stream.content)
                .chars()
                .map(|c| u32::from(c) as u8)
                .collect();
            stream.set_content(winansi);
        }
    }
    let layout = read(&fixtures::save(&mut doc), &Limits::default()).unwrap();
    assert_eq!(
        layout.text().as_deref(),
        Some("Rechnung für Müller GmbH, Straße 5")
    );
}

#[test]
fn layout_text_joins_the_text_pages() {
    let layout = read(&fixtures::text_pdf(fixtures::INVOICE), &Limits::default()).unwrap();
    let text = layout.text().unwrap();
    assert!(
        text.contains("INVOICE") && text.contains("Total due: 1,234.56 EUR"),
        "{text}"
    );
    assert!(text.find("INVOICE") < text.find("Total due"));
}

#[test]
fn scanned_page_comes_back_as_its_jpeg() {
    let jpeg = fixtures::jpeg(64, 48);
    let layout = read(
        &fixtures::pdf(&[Fixture::Jpeg(&jpeg, 64, 48)]),
        &Limits::default(),
    )
    .unwrap();
    let image = image_of(&layout, 1);
    assert_eq!(image.media_type, MediaType::Jpeg);
    assert_eq!(sniff(&image.bytes), Some(MediaType::Jpeg));
    assert_eq!(image.bytes, jpeg, "handed on as stored, not re-encoded");
    let decoded = image::load_from_memory(&image.bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
    assert_eq!(layout.text(), None);
}

#[test]
fn raw_gray_scan_comes_back_as_a_png_of_the_same_pixels() {
    let gray = fixtures::gray(40, 30);
    let layout = read(
        &fixtures::pdf(&[Fixture::Gray(gray.as_raw(), 40, 30)]),
        &Limits::default(),
    )
    .unwrap();
    let image = image_of(&layout, 1);
    assert_eq!(image.media_type, MediaType::Png);
    assert_eq!(sniff(&image.bytes), Some(MediaType::Png));
    let decoded = image::load_from_memory(&image.bytes).unwrap().to_luma8();
    assert_eq!((decoded.width(), decoded.height()), (40, 30));
    assert_eq!(decoded, gray);
}

#[test]
fn a_mixed_document_keeps_its_page_order() {
    let jpeg = fixtures::jpeg(16, 16);
    let gray = fixtures::gray(8, 8);
    let pdf = fixtures::pdf(&[
        Fixture::Text(fixtures::INVOICE[0]),
        Fixture::Jpeg(&jpeg, 16, 16),
        Fixture::Gray(gray.as_raw(), 8, 8),
    ]);
    let layout = read(&pdf, &Limits::default()).unwrap();
    assert!(matches!(layout.pages[0].content, PageContent::Text(_)));
    assert_eq!(image_of(&layout, 2).media_type, MediaType::Jpeg);
    assert_eq!(image_of(&layout, 3).media_type, MediaType::Png);
    assert_eq!(layout.pages[2].number, 3);
}

#[test]
fn a_page_with_a_few_words_over_a_scan_is_read_from_the_scan() {
    let jpeg = fixtures::jpeg(16, 16);
    let mut doc = fixtures::document(&[Fixture::Jpeg(&jpeg, 16, 16)]);
    let page_id = doc.page_iter().next().unwrap();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources = doc
        .get_dictionary_mut(page_id)
        .unwrap()
        .get_mut(b"Resources")
        .unwrap();
    resources
        .as_dict_mut()
        .unwrap()
        .set("Font", dictionary! { "F1" => font_id });
    doc.add_to_page_content(
        page_id,
        lopdf::content::Content {
            operations: vec![
                lopdf::content::Operation::new("BT", vec![]),
                lopdf::content::Operation::new("Tf", vec!["F1".into(), 9.into()]),
                lopdf::content::Operation::new(
                    "Tj",
                    vec![lopdf::Object::string_literal("Page 1 of 1")],
                ),
                lopdf::content::Operation::new("ET", vec![]),
            ],
        },
    )
    .unwrap();
    let layout = read(&fixtures::save(&mut doc), &Limits::default()).unwrap();
    assert_eq!(image_of(&layout, 1).media_type, MediaType::Jpeg);
}

#[test]
fn a_blank_page_is_empty() {
    let blank: fixtures::TextPage = &[];
    let layout = read(&fixtures::text_pdf(&[blank]), &Limits::default()).unwrap();
    assert_eq!(layout.pages[0].content, PageContent::Empty);
    assert_eq!(layout.text(), None);
}

#[test]
fn a_scan_over_the_pixel_limit_is_not_handed_to_ocr() {
    let jpeg = fixtures::jpeg(64, 48);
    let limits = Limits {
        max_image_pixels: 1000,
        ..Limits::default()
    };
    let layout = read(&fixtures::pdf(&[Fixture::Jpeg(&jpeg, 64, 48)]), &limits).unwrap();
    assert_eq!(layout.pages[0].content, PageContent::Empty);
}

#[test]
fn an_image_attachment_is_its_own_single_page() {
    for (bytes, media_type) in [
        (fixtures::png(12, 10), MediaType::Png),
        (fixtures::jpeg(12, 10), MediaType::Jpeg),
        (fixtures::tiff(12, 10), MediaType::Tiff),
    ] {
        let layout = read(&bytes, &Limits::default()).unwrap();
        assert_eq!(layout.media_type, media_type);
        assert_eq!(layout.pages.len(), 1);
        assert_eq!(
            layout.pages[0].content,
            PageContent::Image(PageImage {
                media_type,
                bytes: bytes.clone()
            })
        );
    }
}
