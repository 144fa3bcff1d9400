use async_trait::async_trait;

use super::StoreError;
use crate::domain::DocumentRef;

/// Where a run's documents live: an encrypted, lifecycle-expired S3 bucket
/// in AWS, the data directory locally. Keyed by workflow and content hash,
/// so writing a document again (a duplicate delivery) changes nothing.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    async fn put(&self, workflow: &str, doc: &DocumentRef, bytes: &[u8]) -> Result<(), StoreError>;
    /// `None` once the bucket's lifecycle has expired it.
    async fn get(&self, workflow: &str, doc: &DocumentRef) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A page image for OCR: PNG, JPEG or TIFF bytes.
#[derive(Debug, Clone, Copy)]
pub struct OcrImage<'a> {
    pub media_type: &'a str,
    pub bytes: &'a [u8],
}

#[derive(Debug, Clone, PartialEq)]
pub struct OcrText {
    pub text: String,
    /// Mean word confidence, 0–1, when the engine gives one.
    pub confidence: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// No engine here (Tesseract not installed): the run goes to a reviewer
    /// saying so, instead of failing.
    #[error("OCR is unavailable: {0}")]
    Unavailable(String),
    /// The engine ran and failed on this image; may be retried.
    #[error("OCR failed: {0}")]
    Failed(String),
}

/// Reads the text in a scanned page or a photo: Textract in AWS, Tesseract
/// locally.
#[async_trait]
pub trait Ocr: Send + Sync {
    /// Recorded as the document's reader.
    fn name(&self) -> &'static str;
    async fn read(&self, image: OcrImage<'_>) -> Result<OcrText, OcrError>;
}

/// For hosts without an OCR engine: every scan is unreadable, and says why.
pub struct NoOcr;

#[async_trait]
impl Ocr for NoOcr {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn read(&self, _image: OcrImage<'_>) -> Result<OcrText, OcrError> {
        Err(OcrError::Unavailable("no OCR engine is configured".into()))
    }
}
