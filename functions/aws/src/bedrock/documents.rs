//! The documents a task shows, as Converse content blocks within what one
//! request may carry: a PDF whole as a document block while it fits, else
//! its pages as image blocks; what fits neither way is left out, saying so.

use aws_sdk_bedrockruntime::types::{
    ContentBlock, DocumentBlock, DocumentFormat, DocumentSource, ImageBlock, ImageFormat,
    ImageSource,
};
use aws_smithy_types::error::operation::BuildError;
use aws_smithy_types::Blob;
use handoff_core::ports::{PromptDocument, PromptImage};

/// Converse's limits per request, rounded down to decimal megabytes.
const MAX_DOCUMENTS: usize = 5;
const MAX_DOCUMENT_BYTES: usize = 4_500_000;
const MAX_IMAGES: usize = 20;
const MAX_IMAGE_BYTES: usize = 3_750_000;

pub struct Shown {
    /// For the first user message, before its text.
    pub blocks: Vec<ContentBlock>,
    /// What went otherwise than the core offered it, or not at all: the
    /// answer's note, so the audit trail keeps it.
    pub notes: Vec<String>,
}

pub fn shown(documents: &[PromptDocument]) -> Result<Shown, BuildError> {
    let mut out = Shown {
        blocks: Vec::new(),
        notes: Vec::new(),
    };
    let (mut pdfs, mut images) = (0, 0);
    for doc in documents {
        let mut blocks = Vec::new();
        if let Some(pdf) = &doc.pdf {
            if pdf.len() <= MAX_DOCUMENT_BYTES && pdfs < MAX_DOCUMENTS {
                pdfs += 1;
                blocks.push(document_block(doc.number, pdf)?);
            } else {
                out.notes.push(format!(
                    "document {} went as page images: Bedrock takes {MAX_DOCUMENTS} documents \
                     of {MAX_DOCUMENT_BYTES} bytes at most",
                    doc.number
                ));
            }
        }
        if blocks.is_empty() {
            for (i, page) in doc.pages.iter().enumerate() {
                let fits = page.bytes.len() <= MAX_IMAGE_BYTES && images < MAX_IMAGES;
                match image_format(page) {
                    Some(format) if fits => {
                        images += 1;
                        blocks.push(image_block(format, page)?);
                    }
                    _ => out.notes.push(format!(
                        "document {} page {} left out: Bedrock takes {MAX_IMAGES} PNG or JPEG \
                         images of {MAX_IMAGE_BYTES} bytes at most",
                        doc.number,
                        i + 1
                    )),
                }
            }
        }
        if !blocks.is_empty() {
            out.blocks
                .push(ContentBlock::Text(format!("[document {}]", doc.number)));
            out.blocks.extend(blocks);
        }
    }
    Ok(out)
}

/// Named by its number: Bedrock takes only letters, digits, single spaces,
/// hyphens, parentheses and square brackets, and reads the name as part of
/// the prompt, so the sender's file name is never used.
fn document_block(number: usize, pdf: &[u8]) -> Result<ContentBlock, BuildError> {
    let block = DocumentBlock::builder()
        .format(DocumentFormat::Pdf)
        .name(format!("document-{number}"))
        .source(DocumentSource::Bytes(Blob::new(pdf)))
        .build()?;
    Ok(ContentBlock::Document(block))
}

fn image_block(format: ImageFormat, page: &PromptImage) -> Result<ContentBlock, BuildError> {
    let block = ImageBlock::builder()
        .format(format)
        .source(ImageSource::Bytes(Blob::new(&*page.bytes)))
        .build()?;
    Ok(ContentBlock::Image(block))
}

fn image_format(page: &PromptImage) -> Option<ImageFormat> {
    match page.media_type {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        _ => None,
    }
}
