//! Why intake refuses an attachment.

use crate::MediaType;

/// Why an attachment is refused. The messages name sizes, limits and types,
/// never the document's content, so they can go back to the sender and into
/// logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the attachment is {bytes} bytes, over the limit of {limit}")]
    TooLarge { bytes: usize, limit: usize },
    #[error("the attachment is {}; a PDF, PNG, JPEG or TIFF is accepted", sniffed.unwrap_or("of an unknown type"))]
    UnsupportedType { sniffed: Option<&'static str> },
    #[error("the attachment was declared as {declared:?} but its content is {}", sniffed.mime())]
    TypeMismatch {
        declared: String,
        sniffed: MediaType,
    },
    #[error("the attachment cannot be read: {0}")]
    Malformed(String),
    #[error("the PDF has {pages} pages, over the limit of {limit}")]
    TooManyPages { pages: usize, limit: usize },
    /// A compression bomb: a PDF whose streams inflate past
    /// [`Limits::max_inflated_bytes`](crate::Limits::max_inflated_bytes)
    /// (`limit` in bytes), or an image whose header claims more than
    /// [`Limits::max_image_pixels`](crate::Limits::max_image_pixels)
    /// (`limit` in pixels).
    #[error("the attachment decompresses past the limit of {limit} (bytes of PDF streams, or pixels of an image)")]
    TooLargeWhenInflated { limit: usize },
    #[error("the PDF is encrypted; send a copy without a password or restrictions")]
    Encrypted,
}

impl Refused {
    /// A stable code for APIs, metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::UnsupportedType { .. } => "unsupported_type",
            Self::TypeMismatch { .. } => "type_mismatch",
            Self::Malformed(_) => "malformed",
            Self::TooManyPages { .. } => "too_many_pages",
            Self::TooLargeWhenInflated { .. } => "too_large_when_inflated",
            Self::Encrypted => "encrypted",
        }
    }

    /// A parser's complaint as a refusal: printable ASCII only and at most
    /// 200 characters, since parsers sometimes echo the input they choked on.
    pub(crate) fn malformed(reason: impl std::fmt::Display) -> Self {
        let mut message: String = reason
            .to_string()
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(201)
            .collect();
        if message.len() > 200 {
            message.truncate(197);
            message.push_str("...");
        }
        Self::Malformed(message)
    }
}
