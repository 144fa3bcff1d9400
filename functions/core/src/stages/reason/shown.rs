//! The run's documents loaded and rendered for the tasks that read them as
//! pages: once per run, whichever tasks ask.

use handoff_documents::Refused;

use crate::domain::DocumentRef;
use crate::model::{show_document, ShownDocuments, MAX_PAGES_SHOWN};
use crate::ports::{DocumentStore, PromptDocument};
use crate::stages::StageError;

/// Each of the event's documents in order, numbered as the prompt's text
/// numbers them, until [`MAX_PAGES_SHOWN`] pages are shown. A document that
/// cannot be shown is left out, saying why; only a store that cannot answer
/// fails the stage.
pub async fn load(
    store: &dyn DocumentStore,
    workflow: &str,
    docs: &[DocumentRef],
) -> Result<ShownDocuments, StageError> {
    let mut shown = ShownDocuments::default();
    let mut pages_left = MAX_PAGES_SHOWN;
    for (i, doc) in docs.iter().enumerate() {
        let number = i + 1;
        if pages_left == 0 {
            shown.left_out.push(format!(
                "document {number}: {MAX_PAGES_SHOWN} pages are shown at most"
            ));
            continue;
        }
        let Some(bytes) = store.get(workflow, doc).await? else {
            shown
                .left_out
                .push(format!("document {number}: it is no longer stored"));
            continue;
        };
        match render(number, doc.sha256.clone(), bytes, pages_left).await? {
            Ok(document) => {
                pages_left -= document.pages.len();
                shown.documents.push(document);
            }
            Err(refused) => shown.left_out.push(format!("document {number}: {refused}")),
        }
    }
    Ok(shown)
}

async fn render(
    number: usize,
    sha256: String,
    bytes: Vec<u8>,
    max_pages: usize,
) -> Result<Result<PromptDocument, Refused>, StageError> {
    tokio::task::spawn_blocking(move || show_document(number, &sha256, &bytes, max_pages))
        .await
        .map_err(|e| StageError::Invalid(format!("rendering a document panicked: {e}")))
}
