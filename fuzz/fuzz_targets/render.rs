//! The page renderer on strangers' attachments: `handoff_documents::page_image`
//! for page 1 of arbitrary bytes (mostly PDFs, from the seeds) with the
//! default limits, which checks them as intake does and then has `hayro`
//! draw the page. Never a panic, inside the crate or out (libFuzzer's panic
//! hook aborts even on one `page_image` would catch). A page it returns is
//! the type it says; a PDF page is a PNG that decodes, no larger than
//! `MAX_RENDERED_SIDE` on its longest side.
#![no_main]

use handoff_documents::{page_image, sniff, Limits, MediaType, MAX_RENDERED_SIDE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Some(page)) = page_image(data, 1, &Limits::default()) else {
        return;
    };
    assert_eq!(sniff(&page.bytes), Some(page.media_type));
    if sniff(data) != Some(MediaType::Pdf) {
        return;
    }
    assert_eq!(page.media_type, MediaType::Png);
    let mut reader = png::Decoder::new(std::io::Cursor::new(&page.bytes))
        .read_info()
        .expect("a rendered page is a PNG");
    let (width, height) = (reader.info().width, reader.info().height);
    assert!(width > 0 && height > 0, "{width}x{height}");
    assert!(
        width.max(height) as f32 <= MAX_RENDERED_SIDE + 1.0,
        "{width}x{height}"
    );
    let mut pixels = vec![0; reader.output_buffer_size().expect("a sane size")];
    reader
        .next_frame(&mut pixels)
        .expect("a rendered page decodes");
});
