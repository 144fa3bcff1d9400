//! Documents a multimodal model reads itself, beside the prompt's text.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// One document shown with the first user turn. Each provider takes what it
/// reads: the PDF whole where it can, else the page images.
#[derive(Clone, Copy)]
pub struct Attachment<'a> {
    /// The prompt's text calls it `document N`; each is labelled so.
    pub number: usize,
    /// The PDF itself; `None` for an image, or a PDF shown only in part.
    pub pdf: Option<&'a [u8]>,
    /// Its pages as PNG or JPEG images, in order.
    pub pages: &'a [Image<'a>],
}

#[derive(Clone, Copy)]
pub struct Image<'a> {
    /// `image/png` or `image/jpeg`.
    pub media_type: &'a str,
    pub bytes: &'a [u8],
}

impl Attachment<'_> {
    /// The text put before the document's blocks.
    pub fn label(&self) -> String {
        format!("[document {}]", self.number)
    }
}

impl Image<'_> {
    /// A `data:` URL, as OpenAI's `image_url` takes an inline image.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.media_type, base64(self.bytes))
    }
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

// By hand, so that a logged call shows sizes, never the documents' bytes.
impl fmt::Debug for Attachment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("number", &self.number)
            .field("pdf_bytes", &self.pdf.map(<[u8]>::len))
            .field("pages", &self.pages)
            .finish()
    }
}

impl fmt::Debug for Image<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} bytes", self.media_type, self.bytes.len())
    }
}
