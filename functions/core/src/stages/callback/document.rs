//! `GET /approvals/{id}/documents/{document}/pages/{page}`: one page of the
//! run's documents as an image, for the approval page beside the fields
//! the AI read from it. Opened with the approval link's own signed query:
//! whoever may see the page may see its document, nobody else.

use handoff_documents::{Limits, PageImage};
use serde_json::Value;

use super::{Callback, Refusal};
use crate::domain::{ApprovalId, CanonicalEvent};
use crate::http::{HttpRequest, HttpResponse};
use crate::pages::approval::DocumentView;

/// The event's documents as the page lists them, each page's image at
/// `<approval id>/documents/<i>/pages/<n><link query>`, relative to the
/// page itself. Page counts and readers come from what the context stage
/// read (`context.documents`, in the event's order); a document it did not
/// get to shows its first page.
pub(super) fn views(
    approval: &ApprovalId,
    event: Option<&CanonicalEvent>,
    context: Option<&Value>,
    link_query: &str,
) -> Vec<DocumentView> {
    let Some(event) = event else {
        return Vec::new();
    };
    let readings = context
        .and_then(|c| c.get("documents"))
        .and_then(Value::as_array);
    event
        .documents
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let reading = readings.and_then(|r| r.get(i));
            let read = |key: &str| reading.and_then(|r| r.get(key));
            let unreadable = read("unreadable")
                .and_then(Value::as_str)
                .map(str::to_string);
            let pages = match read("pages").and_then(Value::as_u64) {
                Some(pages) => pages as usize,
                None if unreadable.is_some() => 0,
                None => 1,
            };
            let reader = read("reader")
                .and_then(Value::as_str)
                .filter(|r| *r != "none");
            let confidence = read("ocr_confidence").and_then(Value::as_f64);
            DocumentView {
                name: doc.display_name(),
                media_type: doc.media_type.clone(),
                reading: reader.map(|reader| match confidence {
                    Some(c) => format!("{reader}, OCR confidence {:.0}%", c * 100.0),
                    None => reader.to_string(),
                }),
                unreadable,
                page_urls: (1..=pages)
                    .map(|n| format!("{approval}/documents/{i}/pages/{n}{link_query}"))
                    .collect(),
            }
        })
        .collect()
}

impl Callback {
    pub(super) async fn document_page(&self, req: &HttpRequest) -> Result<HttpResponse, Refusal> {
        if !matches!(req.method.as_str(), "GET" | "HEAD") {
            return Err(Refusal::MethodNotAllowed);
        }
        let (approval, _) = self.open(req).await?;
        let index = number_param(req, "document")?;
        let page = number_param(req, "page")?;
        let event = self
            .store
            .get_event(&approval.run_id)
            .await
            .map_err(|_| Refusal::Unavailable)?
            .ok_or(Refusal::NotFound)?;
        let doc = event.documents.get(index).ok_or(Refusal::NotFound)?;
        let bytes = self
            .documents
            .get(&approval.workflow, doc)
            .await
            .map_err(|_| Refusal::Unavailable)?
            .ok_or(Refusal::DocumentGone)?;
        let image = tokio::task::spawn_blocking(move || {
            handoff_documents::page_image(&bytes, page, &Limits::default())
        })
        .await
        .map_err(|_| Refusal::Unavailable)?;
        match image {
            Ok(Some(image)) => Ok(image_response(image)),
            Ok(None) => Err(Refusal::NotFound),
            Err(refused) => Err(Refusal::Unrenderable(refused.to_string())),
        }
    }
}

/// A path segment that must be a number; anything else is no such page.
fn number_param(req: &HttpRequest, name: &str) -> Result<usize, Refusal> {
    req.path_params
        .get(name)
        .and_then(|v| v.parse().ok())
        .ok_or(Refusal::NotFound)
}

/// The image, kept by the reviewer's browser only: it shows run data.
fn image_response(image: PageImage) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), image.media_type.mime().into()),
            (
                "content-security-policy".into(),
                "default-src 'none'".into(),
            ),
            ("x-content-type-options".into(), "nosniff".into()),
            ("cache-control".into(), "private, max-age=300".into()),
        ],
        body: image.bytes,
    }
}
