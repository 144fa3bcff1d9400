//! Object streams whose index would make `lopdf` parse the same bytes over
//! and over are refused before it expands them.
//!
//! `lopdf` parses each entry of an object stream's index from its offset to
//! the end of that object, whatever the next offset says. Twenty thousand
//! entries pointing into one 400 KB array make a 45 KB file that takes 18 GB
//! to load. A producer writes increasing offsets, each object ending before
//! the next begins; this checks exactly that (brackets, dictionaries and
//! strings balanced within each entry's range) on the decoded stream.
//!
//! The check runs as `lopdf`'s load filter, which sees every top-level
//! object before an object stream is expanded, in a first pass that keeps
//! nothing (the filter drops every object once it has looked at it), so it
//! costs a parse, not memory. The same pass counts the objects the real load
//! would keep: those of every top-level object, and the tokens of every
//! object stream, before it is expanded (see `tokens`).
//!
//! `lopdf` also opens an object stream on its own, unfiltered, to resolve a
//! stream's indirect `/Length` (`/Length 5 0 R` with object 5 compressed)
//! while it parses that stream, in this pass as in the real load. The
//! filter cannot see that, so the parser is never given an indirect length
//! (see [`super::direct_lengths`]): every object stream it expands is one
//! this pass checked first.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;

use lopdf::{Document, LoadOptions, Object, ObjectId, Stream};

use super::tokens;

thread_local! {
    /// The filter's state: `lopdf` takes it as a plain `fn`, so it cannot
    /// carry any. Without the `rayon` feature, `lopdf` loads on the calling
    /// thread.
    static MAX_DECODED: Cell<usize> = const { Cell::new(0) };
    static OBJECTS_LEFT: Cell<usize> = const { Cell::new(0) };
    static FOUND_BAD: Cell<Option<Bad>> = const { Cell::new(None) };
}

/// Why the first pass refuses a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bad {
    /// An object stream's index overlaps its objects.
    Overlapping,
    /// More than the objects allowed, counted as the parser would build them.
    TooManyObjects,
}

/// Whether every object stream in `bytes` is well formed and the document
/// has at most `max_objects` objects, read with `lopdf` the way
/// [`Document::load_mem_with_options`] will read it next.
pub(super) fn check(bytes: &[u8], max_decoded: usize, max_objects: usize) -> Result<(), Bad> {
    MAX_DECODED.with(|max| max.set(max_decoded));
    OBJECTS_LEFT.with(|left| left.set(max_objects));
    FOUND_BAD.with(|bad| bad.set(None));
    let mut options = LoadOptions::with_max_decompressed_size(max_decoded);
    options.filter = Some(inspect);
    // Its errors are the real load's to report; a panic of its own is
    // `guarded`'s to catch.
    let load = || Document::load_mem_with_options(bytes, options);
    if let Err(payload) = std::panic::catch_unwind(AssertUnwindSafe(load)) {
        if !payload.is::<Stop>() {
            std::panic::resume_unwind(payload);
        }
    }
    FOUND_BAD.with(Cell::get).map_or(Ok(()), Err)
}

/// Unwound with out of `lopdf`'s load as soon as the filter finds the
/// document bad: the filter cannot otherwise end the load, and `lopdf`
/// parses every cross-reference entry, as many times as there are entries
/// giving one object's offset (two hundred entries on one 400 KB array took
/// two minutes). Stopping at the bound makes the count bound the work too.
/// `resume_unwind` runs no panic hook: nothing is printed, and a fuzzer
/// does not take it for a crash.
struct Stop;

fn found(bad: Bad) -> ! {
    FOUND_BAD.with(|found| found.set(Some(bad)));
    std::panic::resume_unwind(Box::new(Stop))
}

/// Looks at an object and keeps none: the first pass only inspects. Dropping
/// an object stream here also keeps `lopdf` from expanding it in this pass.
fn inspect(_: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    if !spend(objects_in(object)) {
        found(Bad::TooManyObjects);
    }
    if let Object::Stream(stream) = object {
        if stream.dict.has_type(b"ObjStm") {
            let max = MAX_DECODED.with(Cell::get);
            // Undecodable: `lopdf` will fail on it too, without expanding
            // anything.
            if let Ok(content) = stream.decompressed_content_with_limit(max) {
                let left = OBJECTS_LEFT.with(Cell::get);
                if !tokens::count_in_content(&content, left).is_some_and(spend) {
                    found(Bad::TooManyObjects);
                }
                if !well_formed(stream, &content) {
                    found(Bad::Overlapping);
                }
            }
        }
    }
    None
}

/// Takes `count` objects from what is left; false when not that many are.
fn spend(count: usize) -> bool {
    OBJECTS_LEFT.with(|left| match left.get().checked_sub(count) {
        Some(rest) => {
            left.set(rest);
            true
        }
        None => false,
    })
}

/// How many objects `object` is, counting what it holds.
fn objects_in(object: &Object) -> usize {
    1 + match object {
        Object::Array(items) => items.iter().map(objects_in).sum(),
        Object::Dictionary(dict) => dict.iter().map(|(_, value)| 1 + objects_in(value)).sum(),
        Object::Stream(stream) => stream
            .dict
            .iter()
            .map(|(_, value)| 1 + objects_in(value))
            .sum(),
        _ => 0,
    }
}

fn well_formed(stream: &Stream, content: &[u8]) -> bool {
    let number = |key: &[u8]| {
        stream
            .dict
            .get(key)
            .and_then(Object::as_i64)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
    };
    let Some(first) = number(b"First") else {
        return true;
    };
    let Some(index) = content
        .get(..first)
        .and_then(|index| std::str::from_utf8(index).ok())
    else {
        return true;
    };
    let objects = &content[first..];
    // Read as `lopdf` reads it: comments stripped, then pairs of numbers
    // (object, offset), a pair with anything else in it skipped.
    let tokens: Vec<Option<usize>> = index
        .lines()
        .flat_map(|line| {
            line.split('%')
                .next()
                .unwrap_or_default()
                .split_ascii_whitespace()
        })
        .map(|token| token.parse::<u32>().ok().map(|n| n as usize))
        .collect();
    let offsets: Vec<usize> = tokens
        .chunks_exact(2)
        .filter_map(|pair| pair[0].and(pair[1]))
        .collect();
    let increasing = offsets.windows(2).all(|pair| pair[0] < pair[1]);
    increasing
        && offsets.iter().enumerate().all(|(i, &start)| {
            let end = offsets
                .get(i + 1)
                .copied()
                .unwrap_or(objects.len())
                .min(objects.len());
            start >= end || balanced(&objects[start..end])
        })
}

/// Whether every bracket, dictionary and string opened in `range` closes in
/// it, as `lopdf` would parse them.
fn balanced(range: &[u8]) -> bool {
    let mut depth: usize = 0;
    let mut at = 0;
    while at < range.len() {
        match range[at] {
            b'%' => {
                while at < range.len() && !matches!(range[at], b'\r' | b'\n') {
                    at += 1;
                }
            }
            b'(' => {
                let mut nesting = 1;
                at += 1;
                while nesting > 0 {
                    match range.get(at) {
                        None => return false,
                        Some(b'\\') => at += 1,
                        Some(b'(') => nesting += 1,
                        Some(b')') => nesting -= 1,
                        Some(_) => {}
                    }
                    at += 1;
                }
                continue;
            }
            b'<' if range.get(at + 1) == Some(&b'<') => {
                depth += 1;
                at += 1;
            }
            b'<' => match range[at..].iter().position(|&b| b == b'>') {
                Some(close) => at += close,
                None => return false,
            },
            b'>' if range.get(at + 1) == Some(&b'>') => {
                let Some(less) = depth.checked_sub(1) else {
                    return false;
                };
                depth = less;
                at += 1;
            }
            b'[' => depth += 1,
            b']' => {
                let Some(less) = depth.checked_sub(1) else {
                    return false;
                };
                depth = less;
            }
            _ => {}
        }
        at += 1;
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::balanced;

    #[test]
    fn balanced_ranges_close_what_they_open() {
        assert!(balanced(b"<< /A [1 2 (a]b)] /B <414243> >> "));
        assert!(balanced(b"(nested (parens) and \\) escapes) 12 "));
        assert!(!balanced(b"[1 2 3"));
        assert!(!balanced(b"<< /A (unclosed >>"));
        assert!(!balanced(b"] ["));
        assert!(!balanced(b"<4142"));
    }
}
