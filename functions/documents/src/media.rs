//! What the bytes are, from their content; and what a sender said they are.

use serde::{Deserialize, Serialize};

/// The attachment types intake accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Pdf,
    Png,
    Jpeg,
    Tiff,
}

impl MediaType {
    pub fn mime(&self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Tiff => "image/tiff",
        }
    }

    /// The canonical type and the aliases senders use for it (`image/jpg`,
    /// `application/x-pdf`, …); case and parameters (`; name=…`) are ignored.
    pub fn from_mime(s: &str) -> Option<Self> {
        match essence(s).as_str() {
            "application/pdf" | "application/x-pdf" | "application/acrobat" => Some(Self::Pdf),
            "image/png" | "image/x-png" => Some(Self::Png),
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/tiff" | "image/tif" | "image/x-tiff" => Some(Self::Tiff),
            _ => None,
        }
    }

    pub fn extension(&self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Tiff => "tiff",
        }
    }
}

/// What the bytes are, from their content (magic numbers), never from a
/// header or a file name.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    infer::get(bytes).and_then(|kind| MediaType::from_mime(kind.mime_type()))
}

/// The MIME type of content we do not accept, for the refusal's message.
pub(crate) fn sniffed_mime(bytes: &[u8]) -> Option<&'static str> {
    infer::get(bytes).map(|kind| kind.mime_type())
}

/// Whether a declared type says something other than what the bytes are:
/// one of our types but not this one, or a specific type of its own
/// (`text/html`, `application/zip`). A missing or generic declaration
/// (`application/octet-stream`, what mail clients and upload forms send when
/// they do not know) says nothing.
pub(crate) fn contradicts(declared: &str, sniffed: MediaType) -> bool {
    let essence = essence(declared);
    if GENERIC.contains(&essence.as_str()) {
        return false;
    }
    MediaType::from_mime(&essence) != Some(sniffed)
}

const GENERIC: &[&str] = &[
    "",
    "application/octet-stream",
    "binary/octet-stream",
    "application/binary",
    "application/unknown",
    "application/x-download",
    "application/force-download",
];

/// The type and subtype, trimmed and lower-cased, without parameters.
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A declared type as it may appear in a refusal: printable ASCII, short.
/// It comes from the sender, not the document, but is still cut.
pub(crate) fn printable(declared: &str) -> String {
    declared
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(100)
        .collect()
}
