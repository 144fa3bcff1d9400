//! `handoff eval --task invoice-approval/invoice` on generated invoices: the
//! rows' documents are read as a run reads them (the PDF text layer, or
//! Tesseract for scans) and scored per field on the embedded tier.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use handoff_invoices::{pdf, scan_pdf, scan_png, Invoice, Layout, BODY_TEXT};
use serde_json::{json, Value};

/// Invoices in the dataset: every layout twice.
const INVOICES: u64 = 6;

/// What `handoff-invoices dataset --count 6` writes (less the e-mails): for
/// invoice i (seed i, layouts taking turns) its text PDF and scans, and `text.jsonl` /
/// `scan.jsonl` rows naming them with the invoice's expected fields.
fn dataset(dir: &Path) {
    let (mut text_rows, mut scan_rows) = (Vec::new(), Vec::new());
    for i in 1..=INVOICES {
        let invoice = Invoice::sample(i);
        let layout = Layout::ALL[((i - 1) % Layout::ALL.len() as u64) as usize];
        let document = pdf(&invoice, layout);
        std::fs::write(dir.join(format!("inv-{i}.pdf")), &document).unwrap();
        let scan = scan_pdf(&invoice, layout, i).expect("the scan (fonts-dejavu-core)");
        std::fs::write(dir.join(format!("inv-{i}.scan.pdf")), scan).unwrap();
        std::fs::write(
            dir.join(format!("inv-{i}.scan.png")),
            scan_png(&invoice, layout, i).unwrap(),
        )
        .unwrap();
        let row = |file: String| json!({"documents": [file], "text": BODY_TEXT, "expected": invoice.expected()});
        text_rows.push(row(format!("inv-{i}.pdf")));
        scan_rows.push(row(format!("inv-{i}.scan.pdf")));
    }
    write_jsonl(&dir.join("text.jsonl"), &text_rows);
    write_jsonl(&dir.join("scan.jsonl"), &scan_rows);
}

fn write_jsonl(path: &Path, rows: &[Value]) {
    let lines: Vec<String> = rows.iter().map(Value::to_string).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// `handoff eval --task invoice-approval/invoice --data FILE --json ARGS`.
fn eval(data: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .args(["eval", "--task", "invoice-approval/invoice", "--data"])
        .arg(data)
        .arg("--json")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run handoff");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "eval failed: {stderr}");
    serde_json::from_slice(&out.stdout).expect("--json prints the report")
}

fn field<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["fields"]
        .as_array()
        .expect("per-field figures")
        .iter()
        .find(|f| f["field"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {report}"))
}

/// The per-field table, for the CI log.
fn print_fields(path: &str, report: &Value) {
    eprintln!(
        "{path}: exact match {:.2}, documents {}",
        report["exact_match"].as_f64().unwrap_or(0.0),
        report["documents"]["readers"]
    );
    for f in report["fields"].as_array().into_iter().flatten() {
        eprintln!(
            "  {:<12} precision {:.2} recall {:.2} ({} predicted, {} expected)",
            f["field"].as_str().unwrap_or(""),
            f["precision"].as_f64().unwrap_or(0.0),
            f["recall"].as_f64().unwrap_or(0.0),
            f["predicted"],
            f["expected"]
        );
    }
}

fn assert_every_field_scored(report: &Value) {
    assert_eq!(report["examples"], INVOICES);
    for name in [
        "invoice_id",
        "po_number",
        "amount",
        "due_date",
        "tax",
        "line_items",
    ] {
        let f = field(report, name);
        for figure in ["precision", "recall"] {
            let v = f[figure].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{name} {figure} {v}");
        }
    }
    assert!(report["exact_match"].as_f64().is_some());
}

fn tesseract_is_installed() {
    let found = Command::new("tesseract").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "these tests read scans with Tesseract: apt-get install tesseract-ocr"
    );
}

#[test]
fn text_pdfs_are_read_from_their_text_layer_and_scored_per_field() {
    let dir = temp_dir("eval-documents-text");
    dataset(&dir);
    let report = eval(&dir.join("text.jsonl"), &[]);
    print_fields("text path", &report);
    assert_every_field_scored(&report);
    assert_eq!(report["documents"]["count"], INVOICES);
    assert_eq!(
        report["documents"]["readers"],
        json!({"pdf-text": INVOICES})
    );
    assert_eq!(report["documents"]["unreadable"], 0);
    // The embedded tier's PO pattern finds the printed PO numbers (4 of the
    // 6 invoices print one; measured 1.00 here).
    let po = field(&report, "po_number");
    assert_eq!(po["expected"], 4);
    assert!(po["recall"].as_f64().unwrap() >= 0.75, "{po}");
    assert!(po["precision"].as_f64().unwrap() >= 0.75, "{po}");
    // The tax from the line naming it and the table's rows (measured 0.83
    // recall each): enough for the totals rule to run on most invoices.
    for name in ["tax", "line_items"] {
        let f = field(&report, name);
        assert!(f["recall"].as_f64().unwrap() >= 0.5, "{f}");
        assert!(f["precision"].as_f64().unwrap() >= 0.75, "{f}");
    }
    // Without the documents the body alone names no invoice at all.
    let bodies = dir.join("bodies.jsonl");
    let text = std::fs::read_to_string(dir.join("text.jsonl")).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| {
            let mut row: Value = serde_json::from_str(l).unwrap();
            row.as_object_mut().unwrap().remove("documents");
            row
        })
        .collect();
    write_jsonl(&bodies, &rows);
    let body_only = eval(&bodies, &[]);
    assert_eq!(field(&body_only, "po_number")["predicted"], 0);
    assert!(body_only.get("documents").is_none(), "{body_only}");
}

#[test]
fn scans_are_read_by_tesseract_with_none_unreadable() {
    tesseract_is_installed();
    let dir = temp_dir("eval-documents-scan");
    dataset(&dir);
    let report = eval(&dir.join("scan.jsonl"), &[]);
    print_fields("scan path", &report);
    assert_every_field_scored(&report);
    let documents = &report["documents"];
    assert_eq!(documents["readers"], json!({"tesseract": INVOICES}));
    assert_eq!(documents["unreadable"], 0, "{documents}");
    let confidence = documents["ocr_confidence"].as_f64().unwrap();
    assert!(confidence > 0.5, "OCR confidence {confidence}");
    // Measured 1.00 through Tesseract 5; OCR may misread a digit elsewhere.
    let po = field(&report, "po_number");
    assert!(po["recall"].as_f64().unwrap() >= 0.5, "{po}");
}

#[test]
fn a_scan_without_ocr_is_reported_unreadable_not_scored_as_empty() {
    let dir = temp_dir("eval-documents-no-ocr");
    dataset(&dir);
    let invoice = Invoice::sample(1);
    let data = dir.join("one-scan.jsonl");
    write_jsonl(
        &data,
        &[
            json!({"documents": ["inv-1.pdf"], "text": BODY_TEXT, "expected": invoice.expected()}),
            json!({"documents": ["inv-1.scan.png"], "text": BODY_TEXT, "expected": invoice.expected()}),
        ],
    );
    let report = eval(&data, &["--ocr", "none"]);
    let documents = &report["documents"];
    assert_eq!(documents["count"], 2);
    assert_eq!(documents["unreadable"], 1, "{documents}");
    let unreadable = &documents["unreadable_documents"][0];
    assert_eq!(unreadable["row"], 2);
    assert_eq!(unreadable["document"], "inv-1.scan.png");
    assert!(
        unreadable["reason"]
            .as_str()
            .unwrap()
            .contains("OCR is unavailable"),
        "{unreadable}"
    );
}

#[test]
fn a_missing_document_file_is_an_error_naming_it() {
    let dir = temp_dir("eval-documents-missing");
    let data = dir.join("missing.jsonl");
    write_jsonl(
        &data,
        &[json!({"documents": ["nowhere.pdf"], "text": "x", "expected": {"invoice_id": "A"}})],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .args(["eval", "--task", "invoice-approval/invoice", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nowhere.pdf"), "{stderr}");
}
