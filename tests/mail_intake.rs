//! `handoff mail invoice-approval message.eml`: an e-mail with an invoice
//! attached, end to end on the real binary and a stack of its own: the
//! document is read (text layer or OCR) and recorded in the run's context,
//! and a sender the receiving server did not authenticate is never paid
//! without a person.

mod common;

use std::path::Path;

use common::*;
use handoff_invoices::{eml, pdf, scan_pdf, Invoice, Layout};
use serde_json::Value;

/// The authserv-id whose Authentication-Results invoice-approval believes.
const AUTHSERV_ID: &str = "mx.finance.example.com";

/// Rules of invoice-approval that send a run to finance review.
const APPROVAL_RULES: [&str; 5] = [
    "totals-do-not-add-up",
    "unmatched-po",
    "over-limit",
    "currency-differs-from-po",
    "unauthenticated-sender",
];

/// The e-mail for invoice `seed`, its text PDF or its scan attached.
fn message(dir: &Path, seed: u64, scanned: bool, authserv_id: Option<&str>) -> String {
    let invoice = Invoice::sample(seed);
    let layout = Layout::Classic;
    let document = if scanned {
        scan_pdf(&invoice, layout, seed).expect("the scan (fonts-dejavu-core)")
    } else {
        pdf(&invoice, layout)
    };
    let bytes = eml(
        &invoice,
        ("invoice.pdf", "application/pdf", &document),
        authserv_id,
    );
    let path = dir.join(format!("inv-{seed}.eml"));
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

/// `handoff mail invoice-approval FILE --json --data-dir DIR`: the run's
/// summary, once it ended or waits for approval.
fn mail(data_dir: &Path, file: &str) -> Value {
    let (code, stdout, stderr) = handoff([
        "mail",
        "invoice-approval",
        file,
        "--json",
        "--data-dir",
        &data_dir.to_string_lossy(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The one document the context stage read.
fn reading(run: &Value) -> &Value {
    let documents = run["context"]["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("no documents in the context: {run}"));
    assert_eq!(documents.len(), 1, "{run}");
    &documents[0]
}

#[test]
fn an_authenticated_invoice_pdf_is_read_from_its_text_layer() {
    let dir = temp_dir("mail-text");
    let file = message(&dir, 1, false, Some(AUTHSERV_ID));
    let run = mail(&dir.join("data"), &file);
    let status = run["status"].as_str().unwrap();
    assert!(
        ["COMPLETED", "AWAITING_APPROVAL", "REJECTED"].contains(&status),
        "{run}"
    );
    let document = reading(&run);
    assert_eq!(document["reader"], "pdf-text", "{document}");
    assert_eq!(document["media_type"], "application/pdf");
    assert!(document["unreadable"].is_null(), "{document}");
    assert!(document["chars"].as_u64().unwrap() > 200, "{document}");
    // The extract task read the invoice from the document, not the body.
    let invoice = Invoice::sample(1);
    let po = invoice.po_number.as_deref().expect("invoice 1 prints a PO");
    assert_eq!(run["ai"]["invoice"]["po_number"], po, "{run}");
}

#[test]
fn an_unauthenticated_sender_is_never_paid_without_approval() {
    let dir = temp_dir("mail-unauthenticated");
    let file = message(&dir, 1, false, None);
    let run = mail(&dir.join("data"), &file);
    assert_eq!(run["status"], "AWAITING_APPROVAL", "{run}");
    assert_ne!(run["status"], "COMPLETED");
    let decision = &run["decision"];
    assert_eq!(decision["needs_approval"], true, "{decision}");
    let rule = decision["rule"].as_str().unwrap_or_default();
    assert!(APPROVAL_RULES.contains(&rule), "{decision}");
    assert!(run["actions"].as_array().unwrap().is_empty(), "{run}");
}

#[test]
fn a_scanned_invoice_is_read_by_tesseract() {
    let dir = temp_dir("mail-scan");
    let file = message(&dir, 2, true, Some(AUTHSERV_ID));
    let run = mail(&dir.join("data"), &file);
    let document = reading(&run);
    assert_eq!(document["reader"], "tesseract", "{document}");
    assert!(document["unreadable"].is_null(), "{document}");
    let confidence = document["ocr_confidence"].as_f64().unwrap();
    assert!(confidence > 0.5, "{document}");
}

#[test]
fn a_file_that_is_not_a_message_is_refused_with_its_status() {
    let dir = temp_dir("mail-not-a-message");
    let file = dir.join("payload.json");
    std::fs::write(&file, r#"{"from": "ap@globex.example", "body": "hello"}"#).unwrap();
    let (code, stdout, stderr) = handoff([
        "mail",
        "invoice-approval",
        &file.to_string_lossy(),
        "--json",
        "--data-dir",
        &dir.join("data").to_string_lossy(),
    ]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains("was refused: 4"), "{stderr}");
}
