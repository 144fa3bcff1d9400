//! A relay that links to the invoice instead of inlining it, on the real
//! binary: `handoff up` fetches the link from a real HTTP server (with the
//! spec's secret header) under the same outbound rules as lookups, and the
//! run reads the document like an e-mailed one. A link the rules forbid or
//! a server that fails refuses the delivery, and no run starts.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use handoff_invoices::{pdf, Invoice, Layout};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// A file server on loopback: `/files/inv-<seed>.pdf` is that invoice,
/// `/files/busy.pdf` answers 503. Records each path and Authorization.
struct FileServer {
    base: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl FileServer {
    async fn start() -> FileServer {
        let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().route(
            "/{dir}/{file}",
            axum::routing::get(
                move |UrlPath((dir, file)): UrlPath<(String, String)>, headers: HeaderMap| {
                    let log = log.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        log.lock()
                            .unwrap()
                            .push((format!("/{dir}/{file}"), auth.into()));
                        let seed = file
                            .strip_prefix("inv-")
                            .and_then(|f| f.strip_suffix(".pdf"))
                            .and_then(|s| s.parse::<u64>().ok());
                        match seed {
                            Some(seed) => {
                                (StatusCode::OK, pdf(&Invoice::sample(seed), Layout::Classic))
                            }
                            None => (StatusCode::SERVICE_UNAVAILABLE, Vec::new()),
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FileServer { base, seen }
    }

    fn paths(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter().map(|(path, _)| path.clone()).collect()
    }
}

/// invoice-approval fetching links under the server's `/files/` with a
/// bearer secret; loopback allowed as a private host only when `loopback`.
fn up_fetching_from(server: &FileServer, tag: &str, loopback: bool) -> Up {
    let mut replacements = vec![(
        r#"allow: ["https://relay.finance.example.com/attachments/"]"#,
        format!(
            "allow: [\"{}/files/\"]\n      auth: {{ secret: invoice-approval/documents, prefix: \"Bearer \" }}",
            server.base
        ),
    )];
    if loopback {
        replacements.push((
            "\ncontext:\n",
            "\noutbound:\n  allow_private_hosts: [\"127.0.0.1\"]\n\ncontext:\n".into(),
        ));
    }
    let mut options = UpOptions::fresh(tag);
    options.workflows_in(specs_with("invoice-approval.yaml", tag, &replacements));
    Up::start(&options)
}

/// A relay delivery of invoice `seed` that links to `url`.
fn linking(seed: u64, url: &str) -> Value {
    let invoice = Invoice::sample(seed);
    json!({
        "from": "billing@acme-supplies.example",
        "supplier": "acme-supplies",
        "invoice_id": invoice.invoice_id,
        "body": "Our invoice is attached.",
        "attachments": [{"filename": "invoice.pdf", "content_type": "application/pdf", "url": url}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_invoice_is_fetched_with_its_secret_and_read() {
    let server = FileServer::start().await;
    let up = up_fetching_from(&server, "links-fetched", true);
    let client = up.client();
    let url = format!("{}/files/inv-1.pdf", server.base);

    let (status, body) = client
        .webhook("invoice-approval", &linking(1, &url), Some("link-1"))
        .await
        .unwrap();

    assert_eq!(status, 202, "{body}");
    let run_id = body["run_id"].as_str().unwrap();
    client.follow(run_id, Some("approve"), WAIT).await.unwrap();
    let run = client.run(run_id).await.unwrap();
    let documents = run["context"]["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("no documents read: {run}"));
    assert_eq!(documents.len(), 1, "{run}");
    assert_eq!(documents[0]["reader"], "pdf-text", "{run}");
    let invoice = Invoice::sample(1);
    let po = invoice.po_number.as_deref().expect("invoice 1 prints a PO");
    assert_eq!(run["ai"]["invoice"]["po_number"], po, "{run}");
    // Fetched once, with the spec's header and the secret from the store.
    let seen = server.seen.lock().unwrap().clone();
    let secret = up.secret("invoice-approval/documents");
    assert_eq!(
        seen,
        [("/files/inv-1.pdf".to_string(), format!("Bearer {secret}"))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_the_rules_forbid_or_a_failing_server_start_no_run() {
    let server = FileServer::start().await;
    let client_of = |up: &Up| up.client();

    // Loopback is a private address: without `allow_private_hosts` the
    // fetch is refused however the spec's prefix reads.
    let up = up_fetching_from(&server, "links-private", false);
    let client = client_of(&up);
    let url = format!("{}/files/inv-6.pdf", server.base);
    let (status, body) = client
        .webhook("invoice-approval", &linking(6, &url), Some("link-6"))
        .await
        .unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "document_link_refused", "{body}");
    assert!(server.paths().is_empty(), "{:?}", server.paths());
    assert!(all_runs(&client).await.is_empty());
    drop(up);

    let up = up_fetching_from(&server, "links-refused", true);
    let client = client_of(&up);
    // Outside the allowed prefix: not fetched at all.
    let elsewhere = format!("{}/private/inv-7.pdf", server.base);
    let (status, body) = client
        .webhook("invoice-approval", &linking(7, &elsewhere), Some("link-7"))
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "document_link_not_allowed", "{body}");
    assert!(server.paths().is_empty(), "{:?}", server.paths());
    // The server fails: the sender is told to come back.
    let busy = format!("{}/files/busy.pdf", server.base);
    let (status, body) = client
        .webhook("invoice-approval", &linking(8, &busy), Some("link-8"))
        .await
        .unwrap();
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "document_unreachable", "{body}");
    assert_eq!(server.paths(), ["/files/busy.pdf"]);
    assert!(all_runs(&client).await.is_empty());
}
