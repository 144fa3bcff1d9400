//! `handoff-invoices`: writes generated invoices for evals and end-to-end
//! runs.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use handoff_invoices::{eml, image_pdf, pdf, png, scan, scan_pdf, Invoice, Layout, BODY_TEXT};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Generated supplier invoices with known fields")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// For each invoice i: inv-i.pdf, inv-i.scan.pdf, inv-i.scan.png and
    /// inv-i.eml, plus text.jsonl (the PDFs) and scan.jsonl (the scanned
    /// PDFs) for `handoff eval`. Layouts take turns.
    Dataset {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        count: u64,
        /// Invoice i is drawn from seed + i.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// One e-mail from the supplier with the invoice attached.
    Eml {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        seed: u64,
        /// Attach the scan (an image-only PDF) instead of the text PDF.
        #[arg(long)]
        scan: bool,
        /// Print a total that is not lines + tax.
        #[arg(long)]
        wrong_total: bool,
        /// Add an Authentication-Results header (SPF, DKIM, DMARC pass)
        /// from this authserv-id.
        #[arg(long)]
        authserv_id: Option<String>,
        /// By default the seed picks one.
        #[arg(long)]
        layout: Option<LayoutArg>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    Classic,
    TwoColumn,
    Compact,
}

impl From<LayoutArg> for Layout {
    fn from(arg: LayoutArg) -> Self {
        match arg {
            LayoutArg::Classic => Layout::Classic,
            LayoutArg::TwoColumn => Layout::TwoColumn,
            LayoutArg::Compact => Layout::Compact,
        }
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Dataset { out, count, seed } => dataset(&out, count, seed),
        Command::Eml {
            out,
            seed,
            scan,
            wrong_total,
            authserv_id,
            layout,
        } => {
            let mut invoice = Invoice::sample(seed);
            if wrong_total {
                invoice = invoice.with_wrong_total();
            }
            let layout = layout.map(Layout::from).unwrap_or(layout_for(seed));
            let name = format!("invoice-{}.pdf", file_safe(&invoice.invoice_id));
            let document = if scan {
                scan_pdf(&invoice, layout, seed)?
            } else {
                pdf(&invoice, layout)
            };
            let message = eml(
                &invoice,
                (&name, "application/pdf", &document),
                authserv_id.as_deref(),
            );
            write(&out, &message)
        }
    }
}

fn dataset(out: &Path, count: u64, seed: u64) -> anyhow::Result<()> {
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut text_rows = Vec::new();
    let mut scan_rows = Vec::new();
    for i in 1..=count {
        let invoice_seed = seed + i;
        let invoice = Invoice::sample(invoice_seed);
        let layout = layout_for(i - 1);
        let stem = format!("inv-{i}");
        let document = pdf(&invoice, layout);
        write(&out.join(format!("{stem}.pdf")), &document)?;
        let page = scan(&invoice, layout, invoice_seed)?;
        write(
            &out.join(format!("{stem}.scan.pdf")),
            &image_pdf(&invoice, &page)?,
        )?;
        write(&out.join(format!("{stem}.scan.png")), &png(&page)?)?;
        let name = format!("invoice-{}.pdf", file_safe(&invoice.invoice_id));
        write(
            &out.join(format!("{stem}.eml")),
            &eml(&invoice, (&name, "application/pdf", &document), None),
        )?;
        let row = |document: String| json!({ "documents": [document], "text": BODY_TEXT, "expected": invoice.expected() });
        text_rows.push(row(format!("{stem}.pdf")));
        scan_rows.push(row(format!("{stem}.scan.pdf")));
    }
    write_jsonl(&out.join("text.jsonl"), &text_rows)?;
    write_jsonl(&out.join("scan.jsonl"), &scan_rows)?;
    eprintln!("wrote {count} invoices to {}", out.display());
    Ok(())
}

/// Layouts take turns, so any few invoices cover all three.
fn layout_for(n: u64) -> Layout {
    Layout::ALL[(n % Layout::ALL.len() as u64) as usize]
}

/// "2026/117" is an invoice number, not a folder.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_jsonl(path: &Path, rows: &[serde_json::Value]) -> anyhow::Result<()> {
    let mut file =
        fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    for row in rows {
        writeln!(file, "{row}").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
