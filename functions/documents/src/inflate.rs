//! The bound on what a PDF's streams inflate to, checked on the raw bytes
//! before the PDF parser sees them.
//!
//! Why before: `lopdf` decodes object streams and cross-reference streams
//! while it loads the document. Its `max_decompressed_size` bounds each of
//! those streams, but not their sum, and a 10 MiB file holds hundreds of
//! streams that each inflate ~1000×. So every stream in the file is inflated
//! here first, into a fixed scratch buffer that is thrown away, and the
//! output is added up over the whole document: a bomb is refused after
//! `limit` bytes of work and a few hundred KiB of memory, whatever it claims.
//!
//! What counts as a stream: the data after each `stream` keyword (and its end
//! of line), as far as the deflate data runs. The dictionary is not read: its
//! `/Length` and `/Filter` are the attacker's to choose, so the deflate
//! stream's own end is the one trusted. Data that is not a zlib stream is
//! tried as raw deflate, as `lopdf` does when zlib fails. A layer whose
//! output is itself a zlib stream (`/Filter [/FlateDecode /FlateDecode]`) is
//! inflated in turn, and every layer's output counts.
//!
//! What it does not cover, and what does: the other decoders (LZW, RunLength,
//! ASCII85, Brotli) are bounded per stream by `lopdf`'s limit at load time
//! and, for the streams this crate decodes itself, by the remaining budget
//! ([`crate::pdf`]).

use flate2::{Decompress, FlushDecompress, Status};

/// As many filter layers as `lopdf` decodes (`Stream::MAX_FILTERS`).
const MAX_LAYERS: usize = 16;
const SCRATCH: usize = 32 * 1024;

/// The total every stream in `pdf` inflates to, or `None` once it is over
/// `limit`.
pub(crate) fn inflated_size(pdf: &[u8], limit: usize) -> Option<usize> {
    let mut budget = limit;
    let mut zlib = Layer::new(true);
    let mut raw = Layer::new(false);
    for start in stream_starts(pdf) {
        let data = &pdf[start..];
        let layer = if is_zlib_header(data) {
            &mut zlib
        } else if could_be_raw_deflate(data) {
            &mut raw
        } else {
            continue;
        };
        layer.restart();
        layer.push(data, &mut budget, 1)?;
    }
    Some(limit - budget)
}

/// Where each stream's data starts: after `stream`, optional spaces and one
/// end of line (the grammar `lopdf` parses).
fn stream_starts(pdf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    const KEYWORD: &[u8] = b"stream";
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let found = find(&pdf[from..], KEYWORD)? + from;
        from = found + KEYWORD.len();
        if pdf[..found].ends_with(b"end") {
            continue;
        }
        let mut at = from;
        while matches!(pdf.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        match (pdf.get(at), pdf.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => return Some(at + 2),
            (Some(b'\r' | b'\n'), _) => return Some(at + 1),
            _ => continue,
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// RFC 1950: deflate, a window of at most 32 KiB, and the header checksum.
fn is_zlib_header(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Raw deflate whose first block header is not invalid (block type 3); the
/// cheap test that skips most text and a JPEG's 0xFF before inflating.
fn could_be_raw_deflate(data: &[u8]) -> bool {
    data.first()
        .is_some_and(|first| (first >> 1) & 0b11 != 0b11)
}

/// One inflater in the chain, reused from stream to stream so a file full of
/// `stream` keywords costs no allocation per keyword.
struct Layer {
    inflater: Decompress,
    zlib: bool,
    out: Box<[u8]>,
    started: bool,
    done: bool,
    /// The next layer, when this layer's output is itself a zlib stream.
    next: Option<Box<Layer>>,
    feeding_next: bool,
}

impl Layer {
    fn new(zlib: bool) -> Self {
        Self {
            inflater: Decompress::new(zlib),
            zlib,
            out: vec![0; SCRATCH].into_boxed_slice(),
            started: false,
            done: false,
            next: None,
            feeding_next: false,
        }
    }

    fn restart(&mut self) {
        self.inflater.reset(self.zlib);
        self.started = false;
        self.done = false;
        self.feeding_next = false;
    }

    /// Inflates `input`, charging the output to `budget`; `None` once the
    /// budget is spent. Stops at the end of the deflate data or at the first
    /// error, as a decoder would.
    fn push(&mut self, mut input: &[u8], budget: &mut usize, depth: usize) -> Option<()> {
        while !self.done && !input.is_empty() {
            let (before_in, before_out) = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(input, &mut self.out, FlushDecompress::None);
            let consumed =
                usize::try_from(self.inflater.total_in() - before_in).unwrap_or(usize::MAX);
            let produced =
                usize::try_from(self.inflater.total_out() - before_out).unwrap_or(usize::MAX);
            input = input.get(consumed..).unwrap_or_default();
            *budget = budget.checked_sub(produced)?;

            let output = &self.out[..produced.min(self.out.len())];
            if !self.started && !output.is_empty() {
                self.started = true;
                if depth < MAX_LAYERS && is_zlib_header(output) {
                    let next = self.next.get_or_insert_with(|| Box::new(Layer::new(true)));
                    next.restart();
                    self.feeding_next = true;
                }
            }
            if self.feeding_next {
                if let Some(next) = self.next.as_mut() {
                    next.push(output, budget, depth + 1)?;
                }
            }

            self.done = match status {
                Ok(Status::StreamEnd) | Err(_) => true,
                Ok(Status::Ok | Status::BufError) => consumed == 0 && produced == 0,
            };
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::ZlibEncoder, Compression};
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn pdf_with_stream(data: &[u8]) -> Vec<u8> {
        let mut pdf = b"%PDF-1.4\n1 0 obj\n<< /Length 0 >>\nstream\r\n".to_vec();
        pdf.extend_from_slice(data);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf
    }

    #[test]
    fn counts_what_a_stream_inflates_to() {
        let pdf = pdf_with_stream(&zlib(&[7; 100_000]));
        assert_eq!(inflated_size(&pdf, 1 << 20), Some(100_000));
    }

    #[test]
    fn counts_every_layer_of_a_nested_stream() {
        let inner = zlib(&[0; 500_000]);
        let pdf = pdf_with_stream(&zlib(&inner));
        assert_eq!(inflated_size(&pdf, 1 << 20), Some(500_000 + inner.len()));
        assert_eq!(inflated_size(&pdf, 400_000), None);
    }

    #[test]
    fn adds_up_streams_over_the_document() {
        let one = pdf_with_stream(&zlib(&[1; 300_000]));
        let three = [one.clone(), one.clone(), one].concat();
        assert_eq!(inflated_size(&three, 1_000_000), Some(900_000));
        assert_eq!(inflated_size(&three, 800_000), None);
    }

    #[test]
    fn ignores_endstream_and_keywords_without_an_end_of_line() {
        let pdf = b"%PDF-1.4 endstream\nstreamx endstream";
        assert_eq!(stream_starts(pdf).count(), 0);
    }
}
