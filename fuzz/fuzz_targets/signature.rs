//! `trigger::verify` with arbitrary signature headers and bodies, per scheme:
//! it must answer Ok or a typed error, never panic; and a body signed the
//! way the scheme says must always verify.
#![no_main]

use chrono::{TimeZone, Utc};
use handoff_core::http::HttpRequest;
use handoff_core::ports::Secret;
use handoff_core::trigger::{hmac_hex, verify};
use handoff_spec::{DigestEncoding, SignatureScheme, SignatureSpec};
use libfuzzer_sys::{arbitrary, fuzz_target};

const NOW: i64 = 1_768_469_400;

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    scheme: u8,
    signature: String,
    timestamp: String,
    extra: Option<(String, String)>,
    host: Option<String>,
    query: String,
    body: Vec<u8>,
    now_offset: i32,
    tolerance: Option<u64>,
    previous: Option<String>,
    /// Replace the digest with the correct one, so the signed path is reached.
    sign: bool,
}

fn spec(scheme: u8, tolerance: Option<u64>) -> (SignatureSpec, &'static [&'static str]) {
    let base = |scheme| SignatureSpec {
        scheme,
        secret: "fuzz".into(),
        tolerance_seconds: tolerance,
        header: None,
        prefix: None,
        encoding: None,
        timestamp_header: None,
    };
    match scheme % 8 {
        0 => (base(SignatureScheme::Github), &["x-hub-signature-256"]),
        1 => (base(SignatureScheme::Stripe), &["stripe-signature"]),
        2 => (
            base(SignatureScheme::Slack),
            &["x-slack-signature", "x-slack-request-timestamp"],
        ),
        3 => (base(SignatureScheme::Shopify), &["x-shopify-hmac-sha256"]),
        4 => (
            base(SignatureScheme::Zendesk),
            &[
                "x-zendesk-webhook-signature",
                "x-zendesk-webhook-signature-timestamp",
            ],
        ),
        5 => (
            base(SignatureScheme::Hubspot),
            &["x-hubspot-signature-v3", "x-hubspot-request-timestamp"],
        ),
        6 => (
            SignatureSpec {
                header: Some("X-Signature".into()),
                prefix: Some("sha256=".into()),
                encoding: Some(DigestEncoding::Hex),
                ..base(SignatureScheme::Generic)
            },
            &["x-signature"],
        ),
        _ => (
            SignatureSpec {
                header: Some("X-Webhook-Signature".into()),
                encoding: Some(DigestEncoding::Base64),
                ..base(SignatureScheme::Generic)
            },
            &["x-webhook-signature"],
        ),
    }
}

fuzz_target!(|input: Input| {
    let (spec, names) = spec(input.scheme, input.tolerance);
    let mut req = HttpRequest {
        method: "POST".into(),
        path: "/webhooks/fuzz".into(),
        raw_query: input.query,
        body: input.body,
        ..Default::default()
    };
    req.headers.insert(names[0].into(), input.signature);
    if let Some(ts) = names.get(1) {
        req.headers.insert((*ts).into(), input.timestamp);
    }
    if let Some(host) = input.host {
        req.headers.insert("host".into(), host);
    }
    if let Some((name, value)) = input.extra {
        req.headers.insert(name.to_ascii_lowercase(), value);
    }
    let secret = Secret {
        current: "fuzz-secret".into(),
        previous: input.previous,
    };
    let now = Utc.timestamp_opt(NOW + i64::from(input.now_offset), 0).unwrap();
    let verdict = verify(&spec, &secret, &req, now);

    // Schemes that sign the body alone, signed correctly, always verify.
    if input.sign && matches!(spec.scheme, SignatureScheme::Github) {
        req.headers.insert(
            names[0].into(),
            format!("sha256={}", hmac_hex("fuzz-secret", &req.body)),
        );
        verify(&spec, &secret, &req, now).expect("a correctly signed body verifies");
    } else if input.sign && spec.prefix.is_some() {
        req.headers.insert(
            names[0].into(),
            format!("sha256={}", hmac_hex("fuzz-secret", &req.body)),
        );
        verify(&spec, &secret, &req, now).expect("a correctly signed body verifies");
    }
    let _ = verdict.map_err(|e| e.code());
});
