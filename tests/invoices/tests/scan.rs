use handoff_invoices::{scan_pdf, scan_png, scan_size, Invoice, Layout};
use image::{ColorType, GenericImageView};

fn or_explain<T>(result: Result<T, handoff_invoices::Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_scan_is_a_grey_a4_page_at_200_dpi_with_ink_on_it() {
    for (seed, layout) in [
        (1, Layout::Classic),
        (2, Layout::TwoColumn),
        (3, Layout::Compact),
    ] {
        let invoice = Invoice::sample(seed);
        let bytes = or_explain(scan_png(&invoice, layout, seed));
        let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .expect("the PNG decodes");
        assert_eq!(image.color(), ColorType::L8, "{layout:?}");
        assert_eq!(image.dimensions(), scan_size());
        assert_eq!(scan_size(), (1654, 2339));

        let grey = image.to_luma8();
        let dark = grey.pixels().filter(|p| p.0[0] < 128).count();
        let share = dark as f64 / grey.pixels().len() as f64;
        // Text and rules cover a few percent of a page; noise alone none.
        assert!(
            (0.005..0.2).contains(&share),
            "{layout:?}: {:.2}% dark pixels",
            share * 100.0
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_scan() {
    let invoice = Invoice::sample(9);
    assert_eq!(
        or_explain(scan_png(&invoice, Layout::Compact, 9)),
        or_explain(scan_png(&invoice, Layout::Compact, 9))
    );
}

#[test]
fn the_scanned_pdf_has_no_text_layer_and_one_jpeg() {
    let invoice = Invoice::sample(4);
    let doc = lopdf::Document::load_mem(&or_explain(scan_pdf(&invoice, Layout::TwoColumn, 4)))
        .expect("the PDF parses");
    assert_eq!(doc.get_pages().len(), 1);
    let text = doc.extract_text(&[1]).expect("text extracts");
    assert!(text.trim().is_empty(), "text layer: {text:?}");

    let images: Vec<&lopdf::Stream> = doc
        .objects
        .values()
        .filter_map(|object| object.as_stream().ok())
        .filter(|stream| {
            stream.dict.get(b"Subtype").and_then(|s| s.as_name()).ok() == Some(b"Image")
        })
        .collect();
    assert_eq!(images.len(), 1);
    let image = images[0];
    assert_eq!(
        image.dict.get(b"Filter").unwrap().as_name().unwrap(),
        b"DCTDecode"
    );
    let (width, height) = scan_size();
    assert_eq!(
        image.dict.get(b"Width").unwrap().as_i64().unwrap(),
        width as i64
    );
    assert_eq!(
        image.dict.get(b"Height").unwrap().as_i64().unwrap(),
        height as i64
    );
    let decoded = image::load_from_memory_with_format(&image.content, image::ImageFormat::Jpeg)
        .expect("the JPEG decodes");
    assert_eq!(decoded.dimensions(), (width, height));
}
