//! A page as an image a browser shows and a vision model reads: a PDF page
//! rasterised, a TIFF re-encoded as PNG (browsers do not show TIFF); PNG
//! and JPEG attachments already are one.

use std::io::Cursor;

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};

use crate::{check, guarded, Limits, MediaType, PageImage, Refused};

const RENDERER_FAILED: &str = "the PDF renderer failed on this file";

/// The longest side of a rendered page, in pixels: an A4 page at about
/// 150 dpi, legible on screen and within what vision models take.
pub const MAX_RENDERED_SIDE: f32 = 1600.0;

/// Page `number` (1-based) of a document as a PNG or JPEG; `None` when the
/// document has no such page. The document is checked against `limits`
/// first, as intake does, so a stored document is never rendered past them.
pub fn page_image(
    bytes: &[u8],
    number: usize,
    limits: &Limits,
) -> Result<Option<PageImage>, Refused> {
    if number == 0 {
        return Ok(None);
    }
    let (_, mut pages) = page_images(bytes, number, number, limits)?;
    Ok(pages.pop())
}

/// How many pages [`page_image`] can render.
pub fn page_count(bytes: &[u8], limits: &Limits) -> Result<usize, Refused> {
    page_images(bytes, 1, 0, limits).map(|(count, _)| count)
}

/// The document's page count and its pages `first` to `last` (1-based; as
/// many as it has) as images: checked and parsed once, however many pages
/// are drawn.
pub fn page_images(
    bytes: &[u8],
    first: usize,
    last: usize,
    limits: &Limits,
) -> Result<(usize, Vec<PageImage>), Refused> {
    let numbers = first..=last;
    let image = match check(bytes, None, limits)? {
        MediaType::Pdf => return rendered_pdf_pages(bytes, numbers),
        _ if !numbers.contains(&1) => return Ok((1, Vec::new())),
        MediaType::Tiff => tiff_as_png(bytes)?,
        image => PageImage {
            media_type: image,
            bytes: bytes.to_vec(),
        },
    };
    Ok((1, vec![image]))
}

fn rendered_pdf_pages(
    bytes: &[u8],
    numbers: std::ops::RangeInclusive<usize>,
) -> Result<(usize, Vec<PageImage>), Refused> {
    guarded(RENDERER_FAILED, || {
        let pdf = load(bytes)?;
        let pages = pdf.pages();
        let cache = RenderCache::new();
        let mut images = Vec::new();
        for number in numbers.filter(|n| (1..=pages.len()).contains(n)) {
            let page = &pages[number - 1];
            let (width, height) = page.render_dimensions();
            let scale = (MAX_RENDERED_SIDE / width.max(height).max(1.0)).min(4.0);
            let pixmap = hayro::render(
                page,
                &cache,
                &InterpreterSettings::default(),
                &RenderSettings::default(),
                &PixmapSettings {
                    x_scale: scale,
                    y_scale: scale,
                    bg_color: WHITE,
                },
            );
            let png = pixmap
                .into_png()
                .map_err(|e| Refused::malformed(format!("encoding the rendered page: {e}")))?;
            images.push(PageImage {
                media_type: MediaType::Png,
                bytes: png,
            });
        }
        Ok((pages.len(), images))
    })
}

fn load(bytes: &[u8]) -> Result<Pdf, Refused> {
    Pdf::new(bytes.to_vec()).map_err(|e| Refused::malformed(format!("rendering the PDF: {e:?}")))
}

fn tiff_as_png(bytes: &[u8]) -> Result<PageImage, Refused> {
    let image = image::load_from_memory_with_format(bytes, image::ImageFormat::Tiff)
        .map_err(|e| Refused::malformed(format!("the TIFF: {e}")))?;
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Refused::malformed(format!("encoding the TIFF as PNG: {e}")))?;
    Ok(PageImage {
        media_type: MediaType::Png,
        bytes: png,
    })
}
