//! Reading a run's documents: the PDF text layer where there is one, OCR
//! for scans and photos. Each reading is kept in the run store, so a retried
//! stage neither reads nor pays for OCR again, and the AI step reads the
//! documents' text after the event's.

use handoff_documents::{Limits, PageContent};

use crate::domain::*;
use crate::ports::*;
use crate::stages::StageError;

/// The most of one document's text a run keeps (and a model sees): a run
/// store item has room for it, and an invoice is far shorter.
pub const MAX_TEXT_CHARS: usize = 60_000;

/// What reads documents: the store they are kept in and the OCR engine.
pub struct DocumentReader<'a> {
    pub documents: &'a dyn DocumentStore,
    pub ocr: &'a dyn Ocr,
}

impl DocumentReader<'_> {
    /// One document of a run, read now. A document that cannot be read is
    /// not an error: the reading says why, and the run goes to a reviewer.
    pub async fn read(
        &self,
        workflow: &str,
        doc: &DocumentRef,
    ) -> Result<DocumentReading, StageError> {
        let mut reading = DocumentReading {
            sha256: doc.sha256.clone(),
            name: doc.display_name(),
            media_type: doc.media_type.clone(),
            pages: 0,
            reader: "none".into(),
            ocr_confidence: None,
            unreadable: None,
            text: String::new(),
        };
        let Some(bytes) = self.documents.get(workflow, doc).await? else {
            reading.unreadable = Some("the document is no longer stored".into());
            return Ok(reading);
        };
        let layout = tokio::task::spawn_blocking(move || {
            handoff_documents::read(&bytes, &Limits::default())
        })
        .await
        .map_err(|e| StageError::Invalid(format!("reading a document panicked: {e}")))?;
        let layout = match layout {
            Ok(layout) => layout,
            Err(refused) => {
                reading.unreadable = Some(refused.to_string());
                return Ok(reading);
            }
        };
        reading.pages = layout.pages.len();
        let (mut readers, mut problems, mut confidences) = (Vec::new(), Vec::new(), Vec::new());
        let mut texts = Vec::new();
        for page in &layout.pages {
            match &page.content {
                PageContent::Text(text) => {
                    add_reader(&mut readers, "pdf-text");
                    texts.push(text.clone());
                }
                PageContent::Image(image) => {
                    let asked = self
                        .ocr
                        .read(OcrImage {
                            media_type: image.media_type.mime(),
                            bytes: &image.bytes,
                        })
                        .await;
                    match asked {
                        Ok(read) => {
                            add_reader(&mut readers, self.ocr.name());
                            confidences.extend(read.confidence);
                            texts.push(read.text);
                        }
                        Err(e) => problems.push(format!("page {}: {e}", page.number)),
                    }
                }
                PageContent::Empty => problems.push(format!(
                    "page {}: no text layer and no image OCR can take",
                    page.number
                )),
            }
        }
        if !readers.is_empty() {
            reading.reader = readers.join("+");
        }
        if !confidences.is_empty() {
            reading.ocr_confidence =
                Some(confidences.iter().sum::<f64>() / confidences.len() as f64);
        }
        if !problems.is_empty() {
            reading.unreadable = Some(problems.join("; "));
        }
        let text = texts.join("\n\n");
        reading.text = if text.chars().count() > MAX_TEXT_CHARS {
            text.chars().take(MAX_TEXT_CHARS).collect()
        } else {
            text
        };
        Ok(reading)
    }

    /// Every document of the event, each read once: a reading kept by an
    /// earlier attempt is used again.
    pub async fn read_all(
        &self,
        store: &dyn RunData,
        run_id: &RunId,
        event: &CanonicalEvent,
    ) -> Result<Vec<DocumentReading>, StageError> {
        let mut readings = Vec::with_capacity(event.documents.len());
        for doc in &event.documents {
            let slot = Slot::Document(doc.sha256.clone());
            let reading = match store.get_slot(run_id, &slot).await? {
                Some(kept) => {
                    serde_json::from_value(kept).map_err(|e| StageError::Invalid(e.to_string()))?
                }
                None => {
                    let reading = self.read(&event.workflow, doc).await?;
                    let value = serde_json::to_value(&reading).expect("a reading serialises");
                    store.put_slot(run_id, &slot, &value).await?;
                    reading
                }
            };
            readings.push(reading);
        }
        Ok(readings)
    }
}

fn add_reader(readers: &mut Vec<&'static str>, name: &'static str) {
    if !readers.contains(&name) {
        readers.push(name);
    }
}

/// The readings an earlier stage kept, in the event's order; a document not
/// read yet is left out.
pub async fn kept_readings(
    store: &dyn RunData,
    run_id: &RunId,
    event: &CanonicalEvent,
) -> Result<Vec<DocumentReading>, StageError> {
    let mut readings = Vec::new();
    for doc in &event.documents {
        if let Some(kept) = store
            .get_slot(run_id, &Slot::Document(doc.sha256.clone()))
            .await?
        {
            readings.push(
                serde_json::from_value(kept).map_err(|e| StageError::Invalid(e.to_string()))?,
            );
        }
    }
    Ok(readings)
}

/// The text the AI step reads: the event's, then each document's under a
/// line numbering it. Not its file name: that is the sender's, and one like
/// `INV-1.pdf` would read as the invoice's number. A document with no text
/// keeps its number, so the numbers match the documents a model is shown.
pub fn text_with_documents(event_text: &str, readings: &[DocumentReading]) -> String {
    let mut text = event_text.to_string();
    let numbered = readings.iter().enumerate();
    for (n, reading) in numbered.filter(|(_, r)| !r.text.trim().is_empty()) {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        let header = format!("[document {}, {}]", n + 1, reading.media_type);
        text.push_str(&format!("{header}\n{}", reading.text.trim()));
    }
    text
}

/// Why a reviewer must look: each document that could not be read in full.
pub fn review_reasons(readings: &[DocumentReading]) -> Vec<String> {
    readings
        .iter()
        .filter_map(|r| {
            r.unreadable
                .as_ref()
                .map(|why| format!("document {} could not be read: {why}", r.name))
        })
        .collect()
}
