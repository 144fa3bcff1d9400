//! Supplier invoices with known fields, made on demand: a text PDF, a
//! scanned page (PNG, or an image-only PDF), and the e-mail that brings one
//! in. Tests and evals generate them from a seed instead of checking in
//! binaries, and compare what extraction finds with [`Invoice::expected`].

mod eml;
mod invoice;
mod layout;
mod pdf;
mod scan;

use std::path::PathBuf;

pub use eml::{eml, AP_INBOX, BODY_TEXT};
pub use invoice::{Invoice, Line};
pub use layout::Layout;
pub use pdf::pdf;
pub use scan::{image_pdf, png, scan, scan_pdf, scan_png, scan_size, DPI};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Scans are drawn with DejaVu Sans, which this machine does not have.
    #[error("font {file} not found in {searched}: install Debian's fonts-dejavu-core (apt-get install fonts-dejavu-core)")]
    FontMissing { file: String, searched: String },
    #[error("font {path} is unreadable: {reason}")]
    Font { path: PathBuf, reason: String },
    #[error("encoding the scan failed: {0}")]
    Encode(String),
}

/// 16 bytes that identify `bytes` (FNV-1a, twice with different offsets):
/// the same on every run and Rust release, unlike the standard hasher.
pub(crate) fn fingerprint(bytes: &[u8]) -> [u8; 16] {
    let fnv = |offset: u64| {
        bytes.iter().fold(offset, |hash, byte| {
            (hash ^ *byte as u64).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    id[8..].copy_from_slice(&fnv(0x6c62_272e_07bb_0142).to_be_bytes());
    id
}
