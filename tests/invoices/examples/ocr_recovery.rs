//! How much of each layout's scan Tesseract gives back: the share of scans
//! whose OCR text holds the invoice number, the total, the due date and the
//! tax exactly as printed, and the share of line totals found, from the PNG
//! and from the scanned PDF's JPEG.
//!
//! `cargo run -p handoff-invoices --example ocr_recovery -- [PER_LAYOUT] [FIRST_SEED]`
//! (needs Debian's tesseract-ocr and fonts-dejavu-core).

use std::process::Command;

use handoff_invoices::{image_pdf, png, scan, Invoice, Layout};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let per_layout: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let first: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let dir = tempfile::tempdir()?;

    println!("layout      source  scans  invoice_id  total  due_date    tax  line_totals");
    for (l, layout) in Layout::ALL.into_iter().enumerate() {
        let mut found = [[0u32; 4]; 2];
        let mut lines = [0u32; 2];
        let mut line_count = 0;
        for n in 0..per_layout {
            let seed = first + n * 3 + l as u64;
            let invoice = Invoice::sample(seed);
            let page = scan(&invoice, layout, seed)?;
            let png_path = dir.path().join("scan.png");
            std::fs::write(&png_path, png(&page)?)?;
            let jpeg_path = dir.path().join("scan.jpg");
            std::fs::write(&jpeg_path, jpeg_of(&image_pdf(&invoice, &page)?)?)?;

            let wanted = [
                invoice.invoice_id.clone(),
                layout.amount(&invoice.currency, invoice.total),
                layout.date(invoice.due_date),
                layout.amount(&invoice.currency, invoice.tax),
            ];
            line_count += invoice.lines.len() as u32;
            for (source, path) in [&png_path, &jpeg_path].into_iter().enumerate() {
                let text = ocr(path)?;
                for (field, value) in wanted.iter().enumerate() {
                    if text.contains(value.as_str()) {
                        found[source][field] += 1;
                    } else if std::env::var_os("SHOW_MISSES").is_some() {
                        eprintln!("{layout:?} seed {seed}: missed {value:?}");
                    }
                }
                for line in &invoice.lines {
                    if text.contains(&layout.number(line.total)) {
                        lines[source] += 1;
                    }
                }
            }
        }
        for (source, name) in ["png", "jpeg"].into_iter().enumerate() {
            let pct = |field: usize| 100.0 * found[source][field] as f64 / per_layout as f64;
            println!(
                "{:<11} {:<7} {:>5}  {:>9.0}%  {:>4.0}%  {:>7.0}%  {:>4.0}%  {:>10.0}%",
                layout.name(),
                name,
                per_layout,
                pct(0),
                pct(1),
                pct(2),
                pct(3),
                100.0 * lines[source] as f64 / line_count as f64
            );
        }
    }
    Ok(())
}

fn ocr(path: &std::path::Path) -> anyhow::Result<String> {
    let output = Command::new("tesseract").arg(path).arg("-").output()?;
    anyhow::ensure!(
        output.status.success(),
        "tesseract failed on {}",
        path.display()
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// The one image of a scanned PDF: what an OCR port is handed.
fn jpeg_of(pdf: &[u8]) -> anyhow::Result<Vec<u8>> {
    let doc = lopdf::Document::load_mem(pdf)?;
    doc.objects
        .values()
        .filter_map(|object| object.as_stream().ok())
        .find(|stream| {
            stream.dict.get(b"Filter").and_then(|f| f.as_name()).ok() == Some(b"DCTDecode")
        })
        .map(|stream| stream.content.clone())
        .ok_or_else(|| anyhow::anyhow!("no JPEG in the scanned PDF"))
}
