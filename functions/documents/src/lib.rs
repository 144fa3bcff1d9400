//! Attachments a run reads: an invoice PDF, a scan, a photo.
//!
//! [`check`] decides, up front and cheaply, whether intake accepts the bytes
//! (size, type from the content, page count, compression bombs, encryption,
//! image dimensions). [`read`] lays an accepted document out page by page:
//! the PDF's text layer where it has one, otherwise the page image an OCR
//! engine should read. No I/O, no async and no OCR here; the OCR port takes
//! the [`PageImage`]s this returns.
//!
//! Everything here runs on bytes from strangers, in a Lambda: it never
//! panics, and no decoding it does is unbounded (see [`Limits`]).

mod inflate;
mod media;
mod pdf;
mod raster;
mod refused;
mod render;

pub use media::{sniff, MediaType};
pub use refused::Refused;
pub use render::{page_count, page_image, page_images, MAX_RENDERED_SIDE};

/// The bounds intake enforces on one attachment.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The attachment's size as received.
    pub max_bytes: usize,
    /// Pages in a PDF.
    pub max_pages: usize,
    /// Everything the PDF's streams decompress to, added up over the whole
    /// document: bounds memory and time against compression bombs.
    pub max_inflated_bytes: usize,
    /// Width × height of one image (an attachment or a scanned page): what an
    /// OCR engine would have to decode.
    pub max_image_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_pages: 50,
            max_inflated_bytes: 64 * 1024 * 1024,
            max_image_pixels: 40_000_000,
        }
    }
}

/// Everything intake must refuse, checked up front: the size, the sniffed
/// type against the declared one (a MIME type, parameters allowed), and for a
/// PDF that it parses, is not encrypted, has at most `max_pages` pages and
/// that its streams inflate within `max_inflated_bytes`; for an image, that
/// the dimensions in its header are within `max_image_pixels`. Returns the
/// sniffed type.
pub fn check(bytes: &[u8], declared: Option<&str>, limits: &Limits) -> Result<MediaType, Refused> {
    check_type(bytes, declared, limits)?;
    match media_type_or_refuse(bytes)? {
        MediaType::Pdf => pdf::check(bytes, limits).map(|()| MediaType::Pdf),
        image => raster::check(bytes, limits).map(|()| image),
    }
}

/// A document laid out for reading, one entry per page in page order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub media_type: MediaType,
    pub pages: Vec<Page>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub number: usize,
    pub content: PageContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageContent {
    /// The PDF's text layer for this page, in reading order as far as the
    /// content stream gives it (lines in the order they are drawn).
    Text(String),
    /// A page with no text layer (fewer than 20 non-space characters): the
    /// image to OCR. For an image attachment, the image itself is the single
    /// page. From a PDF, the page's largest image: a JPEG (DCTDecode) as it is
    /// stored, raw 8-bit gray or RGB or 1-bit gray pixels (FlateDecode or
    /// unfiltered) encoded as a PNG.
    Image(PageImage),
    /// Neither text nor an image we can hand to OCR: a blank page, a page of
    /// vector drawing, or a scan in an encoding we do not convert (JBIG2,
    /// CCITT fax, JPEG 2000, indexed or CMYK colour, or more pixels than
    /// [`Limits::max_image_pixels`]).
    Empty,
}

/// An image file an OCR engine (Tesseract, Textract) accepts as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageImage {
    pub media_type: MediaType,
    pub bytes: Vec<u8>,
}

impl Layout {
    /// Every text page's text, pages separated by a blank line; `None` when
    /// no page has a text layer.
    pub fn text(&self) -> Option<String> {
        let texts: Vec<&str> = self
            .pages
            .iter()
            .filter_map(|page| match &page.content {
                PageContent::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n\n"))
    }
}

/// Runs [`check`] (with no declared type), then lays the document out.
/// Never panics: `lopdf` is `forbid(unsafe_code)` but can still panic on a
/// malformed file it did not foresee, so every call into it runs under
/// `catch_unwind` and a panic there is refused as [`Refused::Malformed`].
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Layout, Refused> {
    check_type(bytes, None, limits)?;
    let media_type = media_type_or_refuse(bytes)?;
    let pages = match media_type {
        MediaType::Pdf => pdf::pages(bytes, limits)?,
        image => {
            raster::check(bytes, limits)?;
            vec![Page {
                number: 1,
                content: PageContent::Image(PageImage {
                    media_type: image,
                    bytes: bytes.to_vec(),
                }),
            }]
        }
    };
    Ok(Layout { media_type, pages })
}

/// The checks that need no parsing: the size, then the content's type
/// against the declared one.
fn check_type(bytes: &[u8], declared: Option<&str>, limits: &Limits) -> Result<(), Refused> {
    if bytes.len() > limits.max_bytes {
        return Err(Refused::TooLarge {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let sniffed = media_type_or_refuse(bytes)?;
    if let Some(declared) = declared {
        if media::contradicts(declared, sniffed) {
            return Err(Refused::TypeMismatch {
                declared: media::printable(declared),
                sniffed,
            });
        }
    }
    Ok(())
}

fn media_type_or_refuse(bytes: &[u8]) -> Result<MediaType, Refused> {
    sniff(bytes).ok_or_else(|| Refused::UnsupportedType {
        sniffed: media::sniffed_mime(bytes),
    })
}

/// `lopdf` and `hayro` forbid unsafe code, but a file they did not foresee
/// can still make them panic (an index out of range, an overflow); intake
/// and the approval page must answer, not crash, so every call into them
/// runs here and a panic is a file that cannot be read (`failed` says which
/// part failed).
fn guarded<T>(
    failed: &'static str,
    work: impl FnOnce() -> Result<T, Refused>,
) -> Result<T, Refused> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .unwrap_or_else(|_| Err(Refused::malformed(failed)))
}
