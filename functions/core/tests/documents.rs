//! A run's documents: read once in the context stage (text layer, or OCR
//! for scans), summarised for rules, and read by the AI step after the
//! event's text.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use handoff_core::domain::*;
use handoff_core::http::HttpRequest;
use handoff_core::ports::*;
use handoff_core::stages::documents::DocumentReader;
use handoff_core::testing::{seed, Harness, SIGNED_AT, TEST_SECRET};
use handoff_core::trigger::hmac_hex;
use handoff_invoices::{Invoice, Layout};
use serde_json::{json, Value};

/// Stores `bytes` as a document of a new invoice-approval run and returns
/// the run.
pub(crate) async fn run_with_document(
    h: &Harness,
    id: &str,
    name: &str,
    bytes: &[u8],
    media_type: &str,
) -> RunRef {
    let doc = DocumentRef {
        sha256: sha256_tag(bytes),
        name: Some(name.into()),
        media_type: media_type.into(),
        bytes: bytes.len(),
    };
    h.documents
        .put("invoice-approval", &doc, bytes)
        .await
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339(SIGNED_AT)
        .unwrap()
        .into();
    let run = seed::running(
        id,
        "invoice-approval",
        Some("billing@acme-supplies.example"),
        at,
    );
    let fields = [
        ("sender".to_string(), json!("billing@acme-supplies.example")),
        (
            "text".to_string(),
            json!("Please find our invoice attached."),
        ),
    ]
    .into();
    h.store_run_with_documents(&run, fields, json!({}), vec![doc])
        .await;
    RunRef {
        run_id: run.id,
        workflow: run.workflow,
    }
}

async fn context_of(h: &Harness, run: &RunRef) -> Value {
    h.store
        .get_slot(&run.run_id, &Slot::Context)
        .await
        .unwrap()
        .unwrap()
}

async fn ai_of(h: &Harness, run: &RunRef) -> AiResult {
    let ai = h
        .store
        .get_slot(&run.run_id, &Slot::Ai)
        .await
        .unwrap()
        .unwrap();
    serde_json::from_value(ai).unwrap()
}

#[tokio::test]
async fn a_pdf_invoice_is_read_from_its_text_layer_and_extracted() {
    let h = Harness::new();
    let invoice = Invoice::sample(7);
    let pdf = handoff_invoices::pdf(&invoice, Layout::Classic);
    let run = run_with_document(&h, "run-pdf", "invoice.pdf", &pdf, "application/pdf").await;

    h.context().run(&run).await.unwrap();
    let context = context_of(&h, &run).await;
    let doc = &context["documents"][0];
    assert_eq!(doc["reader"], "pdf-text", "{context}");
    assert_eq!(doc["pages"], 1);
    assert_eq!(doc["name"], "invoice.pdf");
    assert!(doc["unreadable"].is_null(), "{doc}");

    h.reason().run(&run).await.unwrap();
    // The PO number is only in the document: the event's text names none.
    let ai = ai_of(&h, &run).await;
    let (got, want) = (&ai.outputs["invoice"], invoice.expected());
    assert!(want["po_number"].is_string(), "seed 7 has a PO: {want}");
    assert_eq!(
        got["po_number"], want["po_number"],
        "got {got}, want {want}"
    );
    assert!(
        !ai.review_reasons.iter().any(|r| r.contains("document")),
        "{:?}",
        ai.review_reasons
    );
}

#[tokio::test]
async fn a_scan_without_ocr_goes_to_a_reviewer_saying_so() {
    let h = Harness::new();
    let invoice = Invoice::sample(8);
    let scan = handoff_invoices::scan_pdf(&invoice, Layout::Classic, 8).unwrap();
    let run = run_with_document(&h, "run-scan", "scan.pdf", &scan, "application/pdf").await;

    h.context().run(&run).await.unwrap();
    let doc = &context_of(&h, &run).await["documents"][0];
    assert_eq!(doc["reader"], "none");
    let why = doc["unreadable"].as_str().unwrap();
    assert!(why.contains("OCR is unavailable"), "{why}");

    h.reason().run(&run).await.unwrap();
    let ai = ai_of(&h, &run).await;
    assert!(ai.needs_review);
    assert!(
        ai.review_reasons
            .iter()
            .any(|r| r.contains("scan.pdf") && r.contains("OCR is unavailable")),
        "{:?}",
        ai.review_reasons
    );
    h.decide().run(&run).await.unwrap();
    let decision: Decision = serde_json::from_value(
        h.store
            .get_slot(&run.run_id, &Slot::Decision)
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert!(decision.needs_approval, "{decision:?}");
}

/// Answers every page with the same text, counting the calls.
struct CountingOcr {
    calls: AtomicUsize,
    text: String,
}

#[async_trait]
impl Ocr for CountingOcr {
    fn name(&self) -> &'static str {
        "counting"
    }

    async fn read(&self, image: OcrImage<'_>) -> Result<OcrText, OcrError> {
        assert_eq!(image.media_type, "image/jpeg");
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(OcrText {
            text: self.text.clone(),
            confidence: Some(0.9),
        })
    }
}

#[tokio::test]
async fn a_scan_is_read_by_ocr_once_however_often_the_stage_runs() {
    let mut h = Harness::new();
    let ocr = Arc::new(CountingOcr {
        calls: AtomicUsize::new(0),
        text: "Invoice No. INV-2026-0412\nTotal due EUR 1,250.00".into(),
    });
    h.ocr = ocr.clone();
    let invoice = Invoice::sample(9);
    let scan = handoff_invoices::scan_pdf(&invoice, Layout::Compact, 9).unwrap();
    let run = run_with_document(&h, "run-ocr", "scan.pdf", &scan, "application/pdf").await;
    let event = h.store.get_event(&run.run_id).await.unwrap().unwrap();
    let reader = DocumentReader {
        documents: h.documents.as_ref(),
        ocr: ocr.as_ref(),
    };

    let first = reader
        .read_all(h.store.as_ref(), &run.run_id, &event)
        .await
        .unwrap();
    let again = reader
        .read_all(h.store.as_ref(), &run.run_id, &event)
        .await
        .unwrap();

    assert_eq!(ocr.calls.load(Ordering::SeqCst), 1);
    assert_eq!(first, again);
    assert_eq!(first[0].reader, "counting");
    assert_eq!(first[0].ocr_confidence, Some(0.9));
    assert!(first[0].text.contains("INV-2026-0412"));
}

#[tokio::test]
async fn a_document_no_longer_stored_is_unreadable_not_a_failure() {
    let h = Harness::new();
    let pdf = handoff_invoices::pdf(&Invoice::sample(10), Layout::TwoColumn);
    let run = run_with_document(&h, "run-gone", "gone.pdf", &pdf, "application/pdf").await;
    h.documents.stored.lock().unwrap().clear();

    h.context().run(&run).await.unwrap();

    let doc = &context_of(&h, &run).await["documents"][0];
    assert_eq!(doc["unreadable"], "the document is no longer stored");
}

/// A delivery to invoice-approval, signed as its relay signs.
pub(crate) fn signed(content_type: &str, body: Vec<u8>) -> HttpRequest {
    let signature = format!("sha256={}", hmac_hex(TEST_SECRET, &body));
    HttpRequest {
        method: "POST".into(),
        path: "/webhooks/invoice-approval".into(),
        path_params: [("workflow".to_string(), "invoice-approval".to_string())].into(),
        headers: [
            ("content-type".to_string(), content_type.to_string()),
            ("x-signature".to_string(), signature),
        ]
        .into(),
        body,
        ..HttpRequest::default()
    }
}

fn invoice_mail(seed: u64, attachment: (&str, &str, &[u8]), trusted: bool) -> Vec<u8> {
    let authserv = trusted.then_some("mx.finance.example.com");
    handoff_invoices::eml(&Invoice::sample(seed), attachment, authserv)
}

pub(crate) async fn post(h: &Harness, req: &HttpRequest) -> (u16, Value) {
    let res = h.ingest().handle(req).await;
    (res.status, serde_json::from_slice(&res.body).unwrap())
}

#[tokio::test]
async fn an_emailed_invoice_starts_a_run_with_its_pdf_stored_apart() {
    let h = Harness::new();
    let pdf = handoff_invoices::pdf(&Invoice::sample(11), Layout::Classic);
    let mail = invoice_mail(11, ("inv-11.pdf", "application/pdf", &pdf), true);

    let (status, body) = post(&h, &signed("message/rfc822", mail.clone())).await;

    assert_eq!(status, 202, "{body}");
    let run_id = RunId(body["run_id"].as_str().unwrap().into());
    let event = h.store.get_event(&run_id).await.unwrap().unwrap();
    assert_eq!(event.documents.len(), 1);
    let doc = &event.documents[0];
    assert_eq!(doc.media_type, "application/pdf");
    assert_eq!(doc.name.as_deref(), Some("inv-11.pdf"));
    assert_eq!(doc.sha256, sha256_tag(&pdf));
    assert_eq!(
        h.documents
            .get("invoice-approval", doc)
            .await
            .unwrap()
            .unwrap(),
        pdf
    );
    // The claim check: the stored event names the document, never holds it.
    assert!(serde_json::to_vec(&event).unwrap().len() < pdf.len());
    assert_eq!(event.fields["sender_authenticated"], json!(true));
    assert_eq!(
        event.fields["supplier"],
        json!(Invoice::sample(11).supplier_domain())
    );

    // The relay delivering it again: the same run, nothing new stored.
    let (status, again) = post(&h, &signed("message/rfc822", mail)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["run_id"], body["run_id"]);
    assert_eq!(h.documents.stored.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_mail_without_the_trusted_servers_verdict_is_unauthenticated() {
    let h = Harness::new();
    let pdf = handoff_invoices::pdf(&Invoice::sample(12), Layout::Compact);
    let mail = invoice_mail(12, ("inv.pdf", "application/pdf", &pdf), false);

    let (status, body) = post(&h, &signed("message/rfc822", mail)).await;

    assert_eq!(status, 202, "{body}");
    let event = h
        .store
        .get_event(&RunId(body["run_id"].as_str().unwrap().into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.fields["sender_authenticated"], json!(false));
}

#[tokio::test]
async fn refused_attachments_answer_4xx_and_leave_nothing_behind() {
    let pdf = handoff_invoices::pdf(&Invoice::sample(13), Layout::Classic);
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest-of-a-zip".to_vec();
    let truncated = pdf[..pdf.len() / 3].to_vec();
    let png_named_pdf =
        handoff_invoices::scan_png(&Invoice::sample(13), Layout::Classic, 13).unwrap();
    let cases: [(&str, &str, &[u8], u16, &str); 3] = [
        (
            "a zip",
            "application/zip",
            &zip,
            415,
            "document_type_unsupported",
        ),
        (
            "a broken PDF",
            "application/pdf",
            &truncated,
            422,
            "document_malformed",
        ),
        (
            "a PNG said to be a PDF",
            "application/pdf",
            &png_named_pdf,
            415,
            "document_type_mismatch",
        ),
    ];
    for (what, mime, bytes, status, code) in cases {
        let h = Harness::new();
        let mail = invoice_mail(13, ("invoice.pdf", mime, bytes), true);

        let (got, body) = post(&h, &signed("message/rfc822", mail)).await;

        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{what}: {body}"
        );
        assert_eq!(h.store.counts(), (0, 0, 0), "{what}: a run was stored");
        assert!(
            h.documents.stored.lock().unwrap().is_empty(),
            "{what}: a document was stored"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_document_limit_is_refused_before_it_is_read() {
    let h = Harness::new();
    let big = vec![b'a'; handoff_core::trigger::MAX_BODY_WITH_DOCUMENTS_BYTES + 1];

    let (status, body) = post(&h, &signed("message/rfc822", big)).await;

    assert_eq!(status, 413, "{body}");
    assert_eq!(h.store.counts(), (0, 0, 0));
}

#[tokio::test]
async fn the_embedded_tier_takes_the_amount_and_date_their_labels_name() {
    let h = Harness::new();
    let text = "Invoice INV-2026-0412 for PO-4471\nInvoice date 2026-01-02\n\
                Office chairs 2 x EUR 500.00 EUR 1,000.00\nSubtotal EUR 1,000.00\n\
                Tax 19% EUR 190.00\nTotal due EUR 1,190.00\nDue date 2026-02-01";
    let invoice = &invoice_read_from(&h, "run-labels", text).await;
    assert_eq!(
        invoice["amount"],
        json!({ "value": 1190.0, "currency": "EUR" }),
        "{invoice}"
    );
    assert_eq!(invoice["due_date"], "2026-02-01", "{invoice}");
    assert_eq!(invoice["invoice_id"], "INV-2026-0412", "{invoice}");
    assert_eq!(invoice["tax"], json!(190.0), "{invoice}");
}

/// The reason stage's output for an invoice-approval run whose text is
/// `text`.
async fn invoice_read_from(h: &Harness, id: &str, text: &str) -> Value {
    let at = chrono::DateTime::parse_from_rfc3339(SIGNED_AT)
        .unwrap()
        .into();
    let run = seed::running(id, "invoice-approval", Some("a@acme-supplies.example"), at);
    let fields = [
        ("sender".to_string(), json!("a@acme-supplies.example")),
        ("text".to_string(), json!(text)),
    ]
    .into();
    h.store_run(&run, fields, json!({})).await;
    let run = RunRef {
        run_id: run.id,
        workflow: run.workflow,
    };
    h.context().run(&run).await.unwrap();
    h.reason().run(&run).await.unwrap();
    ai_of(h, &run).await.outputs["invoice"].clone()
}

#[tokio::test]
async fn the_embedded_tier_takes_a_tax_only_from_a_line_that_names_it() {
    let h = Harness::new();
    let vat = "Invoice INV-7 for PO-4471\nSubtotal EUR 1,000.00\n\
               VAT 20% EUR 200.00\nTotal EUR 1,200.00";
    let invoice = invoice_read_from(&h, "run-vat", vat).await;
    assert_eq!(invoice["tax"], json!(200.0), "{invoice}");
    assert_eq!(invoice["amount"]["value"], json!(1200.0), "{invoice}");

    // No tax line: no tax, rather than the total or a line's amount.
    let untaxed = "Invoice INV-8 for PO-4471\nConsulting EUR 900.00\nTotal due EUR 900.00";
    let invoice = invoice_read_from(&h, "run-untaxed", untaxed).await;
    assert!(invoice.get("tax").is_none(), "{invoice}");
    assert_eq!(invoice["amount"]["value"], json!(900.0), "{invoice}");
}
