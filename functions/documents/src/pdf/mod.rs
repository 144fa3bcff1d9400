//! PDFs: what intake refuses, and each page's text layer or scan.

mod objstm;
mod scan;
mod text;
mod tokens;

use std::borrow::Cow;

use lopdf::{DecompressError, Document, Error, LoadOptions, Object, ObjectId};

use crate::{guarded, inflate, Limits, Page, PageContent, Refused};

const PARSER_FAILED: &str = "the PDF parser failed on this file";

/// A page with fewer non-space characters than this has no text layer to
/// speak of (a page number, a stamp); its scan is what should be read.
const MIN_TEXT_CHARS: usize = 20;

/// The filters that expand and that [`inflate`] does not count: `lopdf`
/// decodes them within its per-stream limit, and [`Pdf::load`] adds them up.
const OTHER_EXPANDING_FILTERS: &[&[u8]] = &[
    b"LZWDecode",
    b"RunLengthDecode",
    b"ASCII85Decode",
    b"BrotliDecode",
];

pub(crate) fn check(bytes: &[u8], limits: &Limits) -> Result<(), Refused> {
    guarded(PARSER_FAILED, || Pdf::load(bytes, limits).map(drop))
}

pub(crate) fn pages(bytes: &[u8], limits: &Limits) -> Result<Vec<Page>, Refused> {
    guarded(PARSER_FAILED, || Pdf::load(bytes, limits)?.pages())
}

/// A parsed PDF that passed intake's checks.
struct Pdf<'a> {
    doc: Document,
    pages: Vec<ObjectId>,
    limits: &'a Limits,
}

impl<'a> Pdf<'a> {
    fn load(bytes: &[u8], limits: &'a Limits) -> Result<Self, Refused> {
        let bomb = || Refused::TooLargeWhenInflated {
            limit: limits.max_inflated_bytes,
        };
        // Before the parser: it inflates object and cross-reference streams
        // as it loads (see `inflate` for why its own bound is not enough).
        let flate = inflate::inflated_size(bytes, limits.max_inflated_bytes).ok_or_else(bomb)?;

        // Before the parser too: `lopdf` decrypts as it loads, in a path
        // that skips the object-stream check (`objstm`).
        if declares_encryption(bytes) {
            return Err(Refused::Encrypted);
        }
        if tokens::count(bytes, tokens::MAX_OBJECTS).is_none() {
            return Err(too_many_objects());
        }
        // What the parser reads from here on: see `objstm` for why.
        let bytes = direct_lengths(bytes);
        match objstm::check(&bytes, limits.max_inflated_bytes, tokens::MAX_OBJECTS) {
            Ok(()) => {}
            Err(objstm::Bad::Overlapping) => {
                return Err(Refused::malformed(
                    "an object stream's index overlaps its objects",
                ))
            }
            Err(objstm::Bad::TooManyObjects) => return Err(too_many_objects()),
        }
        let options = LoadOptions::with_max_decompressed_size(limits.max_inflated_bytes);
        let doc = Document::load_mem_with_options(&bytes, options)
            .map_err(|error| refusal(error, limits))?;
        // Refused whether or not `lopdf` could open it with an empty
        // password: intake takes no document that someone locked. (The
        // raw check above sees `/Encrypt` written out; this, the rest.)
        if doc.trailer.has(b"Encrypt") || doc.was_encrypted() {
            return Err(Refused::Encrypted);
        }

        let pages: Vec<ObjectId> = doc
            .page_iter()
            .take(limits.max_pages.saturating_add(1))
            .collect();
        if pages.len() > limits.max_pages {
            return Err(Refused::TooManyPages {
                pages: doc.page_iter().count(),
                limit: limits.max_pages,
            });
        }
        if pages.is_empty() {
            return Err(Refused::malformed("the PDF has no pages"));
        }

        let mut budget = limits.max_inflated_bytes - flate;
        for stream in doc
            .objects
            .values()
            .filter_map(|object| object.as_stream().ok())
        {
            let expands = stream
                .filters()
                .is_ok_and(|filters| filters.iter().any(|f| OTHER_EXPANDING_FILTERS.contains(f)));
            if expands {
                match stream.decompressed_content_with_limit(budget) {
                    Ok(decoded) => budget -= decoded.len().min(budget),
                    Err(Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                        return Err(bomb())
                    }
                    // Undecodable: nothing this crate reads, nothing spent.
                    Err(_) => {}
                }
            }
        }
        Ok(Self { doc, pages, limits })
    }

    /// Each page's text layer, or else its scan, or else nothing.
    fn pages(&self) -> Result<Vec<Page>, Refused> {
        // A fresh budget: `load` showed the whole document fits in it.
        let mut budget = self.limits.max_inflated_bytes;
        let mut pages = Vec::with_capacity(self.pages.len());
        for (index, &page_id) in self.pages.iter().enumerate() {
            let text = self.text(page_id, &mut budget)?;
            let content = if text.chars().filter(|c| !c.is_whitespace()).count() >= MIN_TEXT_CHARS {
                PageContent::Text(text)
            } else if let Some(image) =
                scan::page_image(&self.doc, page_id, self.limits, &mut budget)
            {
                PageContent::Image(image)
            } else if !text.trim().is_empty() {
                PageContent::Text(text)
            } else {
                PageContent::Empty
            };
            pages.push(Page {
                number: index + 1,
                content,
            });
        }
        Ok(pages)
    }

    fn text(&self, page_id: ObjectId, budget: &mut usize) -> Result<String, Refused> {
        let content = match self.doc.get_page_content_with_limit(page_id, *budget) {
            Ok(content) => content,
            Err(Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                return Err(Refused::TooLargeWhenInflated {
                    limit: self.limits.max_inflated_bytes,
                })
            }
            Err(_) => return Ok(String::new()),
        };
        *budget -= content.len().min(*budget);
        if tokens::count_in_content(&content, tokens::MAX_OBJECTS).is_none() {
            return Err(too_many_objects());
        }
        Ok(text::page_text(&self.doc, page_id, &content, budget))
    }
}

fn too_many_objects() -> Refused {
    Refused::malformed(format!(
        "the PDF has more than {} objects",
        tokens::MAX_OBJECTS
    ))
}

/// Why `lopdf` could not load the file, as intake's refusal.
fn refusal(error: Error, limits: &Limits) -> Refused {
    match error {
        Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
            Refused::TooLargeWhenInflated {
                limit: limits.max_inflated_bytes,
            }
        }
        Error::Decryption(_) | Error::InvalidPassword | Error::UnsupportedSecurityHandler(_) => {
            Refused::Encrypted
        }
        error => Refused::malformed(error),
    }
}

/// Whether a trailer or cross-reference stream names an encryption
/// dictionary: the name `/Encrypt` (`#` escapes decoded, as a parser would)
/// followed by a reference or a dictionary. Read on the raw bytes, where
/// those dictionaries always are: they are never in a compressed stream.
fn declares_encryption(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(slash) = bytes[at..].iter().position(|&b| b == b'/') {
        let (name, end) = name_at(bytes, at + slash + 1);
        at = end;
        if name == b"Encrypt" {
            let rest = &bytes[end..];
            let value = rest.trim_ascii_start();
            if value.starts_with(b"<<")
                || (value.len() < rest.len() && value.first().is_some_and(u8::is_ascii_digit))
            {
                return true;
            }
        }
    }
    false
}

/// `bytes` with every indirect `/Length` (`/Length 5 0 R`) made `0`, spaces
/// keeping every offset: resolving one, `lopdf` would expand the object
/// stream holding it unchecked (see `objstm`). It then finds the data's end
/// by the `endstream endobj` that closes it, as for any length that does
/// not fit, and that is what a producer writes an indirect length for: the
/// length was not known when the stream was started.
fn direct_lengths(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut rewritten = Cow::Borrowed(bytes);
    let mut at = 0;
    while let Some(slash) = bytes[at..].iter().position(|&b| b == b'/') {
        let (name, end) = name_at(bytes, at + slash + 1);
        at = end;
        if name != b"Length" {
            continue;
        }
        let Some(reference) = reference_at(bytes, end) else {
            continue;
        };
        let span = &mut rewritten.to_mut()[reference];
        span.fill(b' ');
        span[0] = b'0';
    }
    rewritten
}

/// The span of an indirect reference (`12 0 R`) after `at`'s white space
/// and comments, as the parser reads one.
fn reference_at(bytes: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let skip_space = |mut at: usize| loop {
        match bytes.get(at) {
            Some(b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0') => at += 1,
            Some(b'%') => {
                while !matches!(bytes.get(at), None | Some(b'\r' | b'\n')) {
                    at += 1;
                }
            }
            _ => return at,
        }
    };
    let digits = |at: usize| {
        let end = at
            + bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        (end > at).then_some(end)
    };
    let start = skip_space(at);
    let after_number = digits(start)?;
    let generation = skip_space(after_number);
    if generation == after_number {
        return None;
    }
    let after_generation = digits(generation)?;
    let r = skip_space(after_generation);
    if r == after_generation || bytes.get(r) != Some(&b'R') {
        return None;
    }
    let end = r + 1;
    match bytes.get(end) {
        Some(&b) if !b.is_ascii_whitespace() && !b"()<>[]{}/%".contains(&b) && b != 0 => None,
        _ => Some(start..end),
    }
}

/// The name starting at `start` (after its `/`), decoded, and where it ends.
/// Only names up to `Encrypt`'s length are decoded in full.
fn name_at(bytes: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut name = Vec::new();
    let mut at = start;
    while let Some(&byte) = bytes.get(at) {
        if byte.is_ascii_whitespace() || b"()<>[]{}/%".contains(&byte) {
            break;
        }
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (byte, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'#', Some(decoded)) => {
                name.push(decoded);
                at += 3;
            }
            _ => {
                name.push(byte);
                at += 1;
            }
        }
        if name.len() > 8 {
            name.truncate(8);
        }
    }
    (name, at)
}

/// `object`, or what it refers to (one level: enough for resources and
/// dictionaries of images).
fn resolve<'d>(doc: &'d Document, object: &'d Object) -> Option<&'d Object> {
    match object {
        Object::Reference(id) => doc.get_object(*id).ok(),
        direct => Some(direct),
    }
}

#[cfg(test)]
mod tests {
    use super::direct_lengths;

    #[test]
    fn indirect_lengths_become_zero_in_place() {
        let pdf = b"<< /Length 12 0 R >> << /Len#67th %c\n 5 0 R/Filter /F >> [/Length 5 0 Rx]";
        let rewritten = direct_lengths(pdf);
        assert_eq!(rewritten.len(), pdf.len());
        assert_eq!(
            &*rewritten,
            b"<< /Length 0      >> << /Len#67th %c\n 0    /Filter /F >> [/Length 5 0 Rx]"
        );
        let direct = b"<< /Length 42 /Length2 5 0 R >>";
        assert_eq!(&*direct_lengths(direct), direct);
    }
}
