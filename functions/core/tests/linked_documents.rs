//! Documents a webhook links to (invoice-approval's relay): fetched before
//! the delivery is answered, only under the spec's `allow` prefixes, then
//! checked and stored like an inline one. A link that cannot be fetched
//! refuses the delivery and leaves nothing stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use handoff_core::domain::*;
use handoff_core::http::HttpRequest;
use handoff_core::ports::*;
use handoff_core::testing::Harness;
use handoff_invoices::{Invoice, Layout};
use serde_json::{json, Value};

use crate::documents::{post, signed};

const STORE: &str = "https://relay.finance.example.com/attachments/";

/// Answers each URL as scripted (404 for the rest) and records every request.
#[derive(Default)]
struct ScriptedFetcher {
    answers: Mutex<HashMap<String, Result<FetchResponse, FetchError>>>,
    seen: Mutex<Vec<FetchRequest>>,
}

impl ScriptedFetcher {
    fn answer(&self, path: &str, answer: Result<FetchResponse, FetchError>) {
        let url = format!("{STORE}{path}");
        self.answers.lock().unwrap().insert(url, answer);
    }

    fn serve(&self, path: &str, body: &[u8]) {
        self.answer(
            path,
            Ok(FetchResponse {
                status: 200,
                body: body.to_vec(),
            }),
        );
    }

    fn urls_seen(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter().map(|r| r.url.clone()).collect()
    }
}

#[async_trait]
impl Fetcher for ScriptedFetcher {
    async fn get(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError> {
        self.seen.lock().unwrap().push(request.clone());
        let mut answers = self.answers.lock().unwrap();
        match answers.remove(&request.url) {
            Some(answer) => answer,
            None => Ok(FetchResponse {
                status: 404,
                body: Vec::new(),
            }),
        }
    }
}

fn harness() -> (Harness, Arc<ScriptedFetcher>) {
    let fetcher = Arc::new(ScriptedFetcher::default());
    let mut h = Harness::new();
    h.fetcher = fetcher.clone();
    (h, fetcher)
}

/// A relay delivery to invoice-approval linking to `links`.
fn relay(id: &str, links: &[&str]) -> HttpRequest {
    let attachments: Vec<Value> = links
        .iter()
        .map(
            |url| json!({"filename": "invoice.pdf", "content_type": "application/pdf", "url": url}),
        )
        .collect();
    let payload = json!({
        "from": "billing@acme-supplies.example",
        "supplier": "acme-supplies",
        "invoice_id": format!("INV-{id}"),
        "body": "Invoice attached.",
        "attachments": attachments,
    });
    let mut req = signed("application/json", serde_json::to_vec(&payload).unwrap());
    req.headers
        .insert("x-delivery-id".into(), format!("relay-{id}"));
    req
}

async fn nothing_stored(h: &Harness) {
    assert!(h.documents.stored.lock().unwrap().is_empty());
    let runs = h.store.list_runs(&RunQuery::default()).await.unwrap();
    assert!(runs.items.is_empty(), "{:?}", runs.items);
}

#[tokio::test]
async fn a_linked_invoice_is_fetched_checked_and_stored_with_the_run() {
    let (h, fetcher) = harness();
    let pdf = handoff_invoices::pdf(&Invoice::sample(3), Layout::Classic);
    fetcher.serve("a/inv-3.pdf", &pdf);
    let link = format!("{STORE}a/inv-3.pdf");

    let (status, body) = post(&h, &relay("3", &[&link])).await;

    assert_eq!(status, 202, "{body}");
    let run_id = RunId(body["run_id"].as_str().unwrap().into());
    let event = h.store.get_event(&run_id).await.unwrap().unwrap();
    assert_eq!(event.documents.len(), 1);
    let doc = &event.documents[0];
    assert_eq!(doc.sha256, sha256_tag(&pdf));
    assert_eq!(doc.media_type, "application/pdf");
    assert_eq!(doc.name.as_deref(), Some("invoice.pdf"));
    let stored = h.documents.get("invoice-approval", doc).await.unwrap();
    assert_eq!(stored.as_deref(), Some(&pdf[..]));
    // The item says which document it is; its link stays in the event.
    assert_eq!(
        event.payload["attachments"][0],
        json!({"filename": "invoice.pdf", "content_type": "application/pdf", "url": link, "document": 0})
    );
    let seen = fetcher.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    // Within the spec's limits: the default 10 s, and max_bytes.
    assert_eq!(seen[0].timeout.as_millis(), 10_000);
    assert_eq!(seen[0].max_body_bytes, 10 * 1024 * 1024);
}

#[tokio::test]
async fn links_outside_the_allowed_prefixes_are_refused_unfetched() {
    let (h, fetcher) = harness();
    for link in [
        "https://relay.finance.example.com/other/inv.pdf",
        "https://relay.finance.example.com/attachments/../admin/inv.pdf",
        "https://relay.finance.example.com/attachments/%2e%2e/admin/inv.pdf",
        "https://relay.finance.example.com.evil.example/attachments/inv.pdf",
        "https://user:pw@relay.finance.example.com/attachments/inv.pdf",
        "http://relay.finance.example.com/attachments/inv.pdf",
        "https://relay.finance.example.com:8443/attachments/inv.pdf",
        "https://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "not a url",
    ] {
        let (status, body) = post(&h, &relay("x", &[link])).await;
        assert_eq!(status, 400, "{link}: {body}");
        assert_eq!(body["error"], "document_link_not_allowed", "{link}");
    }
    assert!(fetcher.urls_seen().is_empty());
    nothing_stored(&h).await;
}

#[tokio::test]
async fn a_link_that_cannot_be_fetched_refuses_the_delivery_and_stores_nothing() {
    let (h, fetcher) = harness();
    let pdf = handoff_invoices::pdf(&Invoice::sample(4), Layout::Classic);
    let cases: [(&str, Result<FetchResponse, FetchError>, u16, &str); 6] = [
        (
            "busy.pdf",
            Ok(FetchResponse {
                status: 503,
                body: Vec::new(),
            }),
            502,
            "document_unreachable",
        ),
        (
            "slow.pdf",
            Err(FetchError::Timeout(std::time::Duration::from_secs(10))),
            502,
            "document_unreachable",
        ),
        (
            "gone.pdf",
            Ok(FetchResponse {
                status: 410,
                body: Vec::new(),
            }),
            422,
            "document_link_refused",
        ),
        (
            "moved.pdf",
            Ok(FetchResponse {
                status: 302,
                body: Vec::new(),
            }),
            422,
            "document_link_refused",
        ),
        (
            "private.pdf",
            Err(FetchError::Refused(
                "outbound call refused: `relay.finance.example.com` is at 10.0.0.7".into(),
            )),
            422,
            "document_link_refused",
        ),
        (
            "huge.pdf",
            Err(FetchError::TooLarge(10 * 1024 * 1024)),
            413,
            "document_too_large",
        ),
    ];
    for (path, answer, want_status, want_code) in cases {
        // A good first link does not let the delivery through either.
        fetcher.serve("ok.pdf", &pdf);
        fetcher.answer(path, answer);
        let links = [format!("{STORE}ok.pdf"), format!("{STORE}{path}")];
        let (status, body) = post(&h, &relay(path, &[&links[0], &links[1]])).await;
        assert_eq!(status, want_status, "{path}: {body}");
        assert_eq!(body["error"], want_code, "{path}");
        assert!(
            body["message"].as_str().unwrap().starts_with("document 1"),
            "{body}"
        );
    }
    nothing_stored(&h).await;
}

#[tokio::test]
async fn fetched_bytes_are_sniffed_like_an_inline_document() {
    let (h, fetcher) = harness();
    fetcher.serve(
        "invoice.pdf",
        b"<html><body>Sign in to continue</body></html>",
    );

    let (status, body) = post(&h, &relay("html", &[&format!("{STORE}invoice.pdf")])).await;

    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"], "document_type_unsupported");
    nothing_stored(&h).await;
}

#[tokio::test]
async fn links_and_inline_documents_share_the_count() {
    let (h, fetcher) = harness();
    // invoice-approval takes at most 5 documents.
    let links: Vec<String> = (0..6).map(|i| format!("{STORE}{i}.pdf")).collect();
    let links: Vec<&str> = links.iter().map(String::as_str).collect();

    let (status, body) = post(&h, &relay("many", &links)).await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "too_many_documents");
    assert!(fetcher.urls_seen().is_empty());
}
