//! Raw e-mail: `parse_email` and the `Authentication-Results` reading on
//! arbitrary bytes. Never a panic; the documents stay within the limits
//! and each one the payload lists is one returned.
#![no_main]

use handoff_core::trigger::{authentication_results, parse_email, Authentication};
use handoff_spec::DocumentIntakeSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let headers = authentication_results(raw);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    // A short id the fuzzer can write, and the usual shape of one.
    for trusted in ["mx", "mx.example.com"] {
        let auth = Authentication::from_authentication_results(&headers, trusted);
        let named = headers.iter().any(|h| h.to_ascii_lowercase().contains(trusted));
        assert!(named || auth == Authentication::unverified());
    }
    let auth = Authentication::from_authentication_results(&headers, "mx");
    let limits = DocumentIntakeSpec {
        max_count: 3,
        max_bytes: 1024,
        ..DocumentIntakeSpec::default()
    };
    let Ok(email) = parse_email(raw, auth, &limits) else {
        return;
    };
    assert!(email.attachments.len() <= limits.max_count);
    assert!(email.attachments.iter().all(|a| a.bytes.len() <= limits.max_bytes));
    let listed = email.payload["attachments"].as_array().expect("a list");
    assert_eq!(listed.len(), email.attachments.len());
    for (i, item) in listed.iter().enumerate() {
        assert_eq!(item["document"], i);
    }
    assert_eq!(
        email.payload["authentication"]["sender_authenticated"],
        auth.sender_authenticated()
    );
});
