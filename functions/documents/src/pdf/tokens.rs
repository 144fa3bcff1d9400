//! The bound on how many objects the PDF parser builds, checked before it
//! builds them.
//!
//! Every number in `[0 0 0 ...]` takes two bytes to write and, parsed by
//! `lopdf`, an `Object` of tens of bytes plus its share of the array's
//! growth: 8 MB of zeros in the file held half a gigabyte once parsed, and
//! the 60 MB an object stream may inflate to, eight gigabytes. So the tokens are counted
//! first, on the raw bytes here and on each object stream's content as it is
//! checked (`objstm`), and a document with more than [`MAX_OBJECTS`] is
//! refused; what the parser then keeps is counted too (`objstm`), so objects
//! the raw count could not see are bounded as well. A page's content stream
//! is parsed an operation at a time, but one operation can be all of it
//! (sixty million zeros, then `Tj`), so each page's is counted before its
//! text is read, against the same bound.

/// Objects (numbers, names, strings, arrays, dictionaries, references: each
/// token a parser makes one of) a PDF may have. Ten pages of a dense invoice
/// are a few thousand; a 50-page document with its fonts and annotations
/// well under a hundred thousand.
pub(super) const MAX_OBJECTS: usize = 1_000_000;

/// The tokens in `bytes` that the parser would make an object of, counted
/// generously: every opening delimiter, and every run of other characters
/// (inside strings and comments too), except a stream's data, from the
/// `stream` keyword and its end of line to the next `endstream`. `None`
/// once the count passes `limit`.
pub(super) fn count(bytes: &[u8], limit: usize) -> Option<usize> {
    count_tokens(bytes, limit, true)
}

/// The same count over decoded content the parser reads whole, an object
/// stream's or a page's (whose operators are read into objects one
/// operation at a time, but each with all its operands): nothing is skipped
/// there, `stream` being no keyword in either.
pub(super) fn count_in_content(content: &[u8], limit: usize) -> Option<usize> {
    count_tokens(content, limit, false)
}

fn count_tokens(bytes: &[u8], limit: usize, skip_streams: bool) -> Option<usize> {
    let mut count = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if is_space(byte) || b")]}>".contains(&byte) {
            at += 1;
            continue;
        }
        count += 1;
        if count > limit {
            return None;
        }
        if b"([{<".contains(&byte) {
            at += 1;
            continue;
        }
        // A name is one token with its slash; a comment's words count as
        // tokens too.
        let start = at;
        at += 1;
        while at < bytes.len() && !is_space(bytes[at]) && !is_delimiter(bytes[at]) {
            at += 1;
        }
        if skip_streams && &bytes[start..at] == b"stream" {
            if let Some(data) = stream_data(bytes, at) {
                at = find(&bytes[data..], b"endstream").map_or(bytes.len(), |end| data + end);
            }
        }
    }
    Some(count)
}

/// Where a stream's data starts, after the keyword ending at `at`: optional
/// spaces, then one end of line.
fn stream_data(bytes: &[u8], mut at: usize) -> Option<usize> {
    while matches!(bytes.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    match (bytes.get(at), bytes.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => Some(at + 2),
        (Some(b'\r' | b'\n'), _) => Some(at + 1),
        _ => None,
    }
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delimiter(byte: u8) -> bool {
    b"()<>[]{}/".contains(&byte)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::{count, count_in_content};

    #[test]
    fn counts_each_object_a_parser_would_build() {
        assert_eq!(count(b"[0 0 0]", 100), Some(4));
        assert_eq!(count(b"<< /Type /Page /Kids [3 0 R] >>", 100), Some(9));
        assert_eq!(count(b"(a string) <414243>", 100), Some(5));
        assert_eq!(count(b"[0 0 0 0]", 4), None);
        assert_eq!(count(b"%PDF-1.7 %comment\n%%EOF", 100), Some(3));
    }

    #[test]
    fn skips_a_streams_data() {
        let pdf = b"1 0 obj << /Length 9 >> stream\r\n[0 0 0 0]\nendstream endobj";
        assert_eq!(count(pdf, 100), Some(10));
        assert_eq!(count(b"streamed [0 0]", 100), Some(4));
        let content = b"stream\n0 0 0 Tj endstream";
        assert_eq!(count_in_content(content, 100), Some(6));
    }
}
