//! Documents that arrived with a run (invoice PDFs, scans), stored apart
//! from it and referred to by their content hash: the claim check.

use serde::{Deserialize, Serialize};

/// One document of a run's event. The bytes live in the document store
/// under the workflow and `sha256`; the event carries only this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// `sha256:<hex>` of the bytes: the same document sent twice is stored
    /// once, and a duplicate delivery stores nothing new.
    pub sha256: String,
    /// The file name the sender gave, if any; untrusted text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the bytes are, sniffed from their content (`application/pdf`).
    pub media_type: String,
    pub bytes: usize,
}

impl DocumentRef {
    /// A name to show: the sender's, or one made from the hash.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            let hex = self.sha256.trim_start_matches("sha256:");
            format!("document-{}", &hex[..hex.len().min(12)])
        })
    }

    /// The key under which the store keeps the bytes: `<workflow>/<hex>`.
    pub fn key(&self, workflow: &str) -> String {
        format!("{workflow}/{}", self.sha256.trim_start_matches("sha256:"))
    }
}

/// How one document read: kept in the run store (`Slot::Document`) so a
/// retried stage does not read (or pay for OCR) again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentReading {
    pub sha256: String,
    pub name: String,
    pub media_type: String,
    pub pages: usize,
    /// What read it: `pdf-text`, an OCR engine's name, both joined by `+`,
    /// or `none`.
    pub reader: String,
    /// The OCR engine's mean word confidence over the OCR'd pages, 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_confidence: Option<f64>,
    /// Why some pages could not be read (OCR unavailable, an image encoding
    /// no engine takes); the run then goes to a reviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    pub text: String,
}

impl DocumentReading {
    /// What rules and prompts see of it in `context.documents`: everything
    /// but the text, which the AI step reads with the event's.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "media_type": self.media_type,
            "pages": self.pages,
            "reader": self.reader,
            "ocr_confidence": self.ocr_confidence,
            "unreadable": self.unreadable,
            "chars": self.text.chars().count(),
        })
    }
}
