//! The scans are meant to be read by OCR: Tesseract (Debian's
//! `tesseract-ocr`, which the project's test command installs) must find
//! the invoice number on each layout's scan.

use std::io::ErrorKind;
use std::process::Command;

use handoff_invoices::{scan_png, Invoice, Layout};

fn tesseract(png: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let path = dir.path().join("scan.png");
    std::fs::write(&path, png).expect("writing the scan");
    let output = match Command::new("tesseract").arg(&path).arg("-").output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "tesseract is not on PATH: install Debian's tesseract-ocr (apt-get install tesseract-ocr)"
        ),
        Err(e) => panic!("running tesseract: {e}"),
    };
    assert!(
        output.status.success(),
        "tesseract failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("tesseract prints UTF-8")
}

#[test]
fn tesseract_reads_the_invoice_number_off_every_layouts_scan() {
    for (seed, layout) in [
        (11, Layout::Classic),
        (12, Layout::TwoColumn),
        (13, Layout::Compact),
    ] {
        let invoice = Invoice::sample(seed);
        let png = scan_png(&invoice, layout, seed).unwrap_or_else(|e| panic!("{e}"));
        let text = tesseract(&png);
        assert!(
            text.contains(&invoice.invoice_id),
            "{layout:?}, seed {seed}: {:?} not in the OCR text\n{text}",
            invoice.invoice_id
        );
    }
}
