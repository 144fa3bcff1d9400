//! `page_image`: what the approval page shows and a vision model reads.

use handoff_documents::{page_count, page_image, Limits, MediaType, Refused, MAX_RENDERED_SIDE};

use crate::fixtures::{self, Fixture};

fn decoded(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

/// Pixels darker than mid-grey: ink on the page.
fn ink(image: &image::RgbaImage) -> usize {
    image
        .pixels()
        .filter(|p| p.0[..3].iter().all(|&c| c < 128))
        .count()
}

#[test]
fn a_pdf_page_renders_as_a_png_with_its_text_drawn() {
    let pdf = fixtures::text_pdf(fixtures::INVOICE);
    assert_eq!(page_count(&pdf, &Limits::default()), Ok(2));

    let page = page_image(&pdf, 1, &Limits::default()).unwrap().unwrap();
    assert_eq!(page.media_type, MediaType::Png);
    let image = decoded(&page.bytes);
    let longest = image.width().max(image.height()) as f32;
    assert!((longest - MAX_RENDERED_SIDE).abs() <= 1.0, "{longest}");
    let (ink, all) = (ink(&image), (image.width() * image.height()) as usize);
    assert!(ink > 500 && ink < all / 10, "{ink} of {all} pixels are ink");
}

#[test]
fn a_blank_page_renders_white() {
    let pdf = fixtures::text_pdf(&[&[]]);
    let page = page_image(&pdf, 1, &Limits::default()).unwrap().unwrap();
    assert_eq!(ink(&decoded(&page.bytes)), 0);
}

#[test]
fn a_page_past_the_last_is_none() {
    let pdf = fixtures::text_pdf(fixtures::INVOICE);
    assert_eq!(page_image(&pdf, 3, &Limits::default()), Ok(None));
    assert_eq!(page_image(&pdf, 0, &Limits::default()), Ok(None));
    assert_eq!(
        page_image(&fixtures::png(20, 10), 2, &Limits::default()),
        Ok(None)
    );
}

#[test]
fn a_scanned_page_renders_its_image() {
    let gray = fixtures::gray(64, 48);
    let pdf = fixtures::pdf(&[Fixture::Gray(gray.as_raw(), 64, 48)]);
    let page = page_image(&pdf, 1, &Limits::default()).unwrap().unwrap();
    assert!(ink(&decoded(&page.bytes)) > 0);
}

#[test]
fn png_and_jpeg_pass_as_they_are_and_tiff_becomes_png() {
    let limits = Limits::default();
    for (bytes, media_type) in [
        (fixtures::png(20, 10), MediaType::Png),
        (fixtures::jpeg(20, 10), MediaType::Jpeg),
    ] {
        let page = page_image(&bytes, 1, &limits).unwrap().unwrap();
        assert_eq!((page.media_type, &page.bytes), (media_type, &bytes));
    }
    let page = page_image(&fixtures::tiff(20, 10), 1, &limits)
        .unwrap()
        .unwrap();
    assert_eq!(page.media_type, MediaType::Png);
    assert_eq!(decoded(&page.bytes).dimensions(), (20, 10));
}

#[test]
fn what_intake_refuses_is_not_rendered() {
    let limits = Limits {
        max_pages: 1,
        ..Limits::default()
    };
    let pdf = fixtures::text_pdf(fixtures::INVOICE);
    assert!(matches!(
        page_image(&pdf, 1, &limits),
        Err(Refused::TooManyPages { pages: 2, limit: 1 })
    ));
    assert!(matches!(
        page_image(b"%PDF-1.7 not really", 1, &Limits::default()),
        Err(Refused::Malformed(_))
    ));
}
