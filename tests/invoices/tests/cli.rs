use std::path::Path;
use std::process::Command;

use handoff_invoices::Invoice;
use mail_parser::MessageParser;

fn run(args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_handoff-invoices"))
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON row"))
        .collect()
}

#[test]
fn dataset_writes_each_invoices_documents_and_a_row_per_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    run(&["dataset", "--out", out, "--count", "2", "--seed", "40"]);

    for i in 1..=2 {
        for suffix in ["pdf", "scan.pdf", "scan.png", "eml"] {
            let file = dir.path().join(format!("inv-{i}.{suffix}"));
            assert!(
                file.metadata().map(|m| m.len() > 0).unwrap_or(false),
                "{file:?}"
            );
        }
    }
    for (jsonl, document) in [("text.jsonl", "pdf"), ("scan.jsonl", "scan.pdf")] {
        let rows = rows(&dir.path().join(jsonl));
        assert_eq!(rows.len(), 2, "{jsonl}");
        for (i, row) in rows.iter().enumerate() {
            let n = i as u64 + 1;
            assert_eq!(
                row["documents"],
                serde_json::json!([format!("inv-{n}.{document}")])
            );
            assert_eq!(row["text"], "Please find our invoice attached.");
            assert_eq!(row["expected"], Invoice::sample(40 + n).expected());
        }
    }
}

#[test]
fn eml_writes_one_message_with_the_options_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.eml");
    run(&[
        "eml",
        "--out",
        file.to_str().unwrap(),
        "--seed",
        "8",
        "--scan",
        "--wrong-total",
        "--authserv-id",
        "mx.test",
    ]);
    let raw = std::fs::read(&file).unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    assert!(message.header("Authentication-Results").is_some());
    assert_eq!(message.attachment_count(), 1);
    let attachment = message.attachment(0).unwrap();
    let pdf = lopdf::Document::load_mem(attachment.contents()).expect("a PDF is attached");
    assert!(
        pdf.extract_text(&[1]).unwrap().trim().is_empty(),
        "a scan has no text layer"
    );
    let invoice = Invoice::sample(8);
    assert!(message.subject().unwrap().contains(&invoice.invoice_id));
}
