//! Attachments from strangers: `handoff_documents::read` on arbitrary bytes
//! (mostly PDFs, from the seeds) with the default limits. Never a panic,
//! inside the crate or out: libFuzzer's panic hook aborts even on a panic
//! `read` would catch, so the fuzzer reports those too. What `read` lays out,
//! `check` accepts; pages are numbered from 1; a page image is the type it
//! says.
#![no_main]

use handoff_documents::{check, read, sniff, Limits, PageContent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(layout) = read(data, &limits) else {
        return;
    };
    assert_eq!(check(data, None, &limits), Ok(layout.media_type));
    for (index, page) in layout.pages.iter().enumerate() {
        assert_eq!(page.number, index + 1);
        if let PageContent::Image(image) = &page.content {
            assert_eq!(sniff(&image.bytes), Some(image.media_type));
        }
    }
});
