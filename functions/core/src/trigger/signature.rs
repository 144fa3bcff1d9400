//! Signature schemes of the SaaS senders, always over the raw bytes and
//! compared in constant time (`Mac::verify_slice`).

use base64::Engine;
use chrono::{DateTime, Utc};

use handoff_spec::{DigestEncoding, SignatureScheme, SignatureSpec};

use crate::http::HttpRequest;
use crate::ports::Secret;
use crate::signing;

const DEFAULT_TOLERANCE_SECONDS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("signature does not match")]
    Mismatch,
    #[error("timestamp outside the {tolerance} s tolerance")]
    Stale { tolerance: u64 },
}

impl SignatureError {
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing(_) => "missing_signature",
            SignatureError::Malformed(_) | SignatureError::Mismatch => "bad_signature",
            SignatureError::Stale { .. } => "stale_timestamp",
        }
    }
}

/// Checks the request against the workflow's scheme with every candidate
/// value of the secret (current, then previous during rotation).
pub fn verify(
    spec: &SignatureSpec,
    secret: &Secret,
    req: &HttpRequest,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let tolerance = spec.tolerance_seconds.unwrap_or(DEFAULT_TOLERANCE_SECONDS);
    let body = req.body.as_slice();
    let (signed, digests): (Vec<u8>, Vec<Vec<u8>>) = match spec.scheme {
        SignatureScheme::Github => {
            let sig = header(req, "x-hub-signature-256")?;
            (body.to_vec(), vec![hex_after(sig, "sha256=")?])
        }
        SignatureScheme::Stripe => {
            let sig = header(req, "stripe-signature")?;
            let mut t = None;
            let mut v1 = Vec::new();
            for part in sig.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", value)) => t = Some(value),
                    Some(("v1", value)) => v1.push(decode_hex(value)?),
                    _ => {}
                }
            }
            let t =
                t.ok_or_else(|| SignatureError::Malformed("no t= in Stripe-Signature".into()))?;
            check_age(parse_unix(t)?, now, tolerance)?;
            if v1.is_empty() {
                return Err(SignatureError::Malformed(
                    "no v1= in Stripe-Signature".into(),
                ));
            }
            (concat(&[t.as_bytes(), b".", body]), v1)
        }
        SignatureScheme::Slack => {
            let sig = header(req, "x-slack-signature")?;
            let ts = header(req, "x-slack-request-timestamp")?;
            check_age(parse_unix(ts)?, now, tolerance)?;
            (
                concat(&[b"v0:", ts.as_bytes(), b":", body]),
                vec![hex_after(sig, "v0=")?],
            )
        }
        SignatureScheme::Shopify => {
            let sig = header(req, "x-shopify-hmac-sha256")?;
            (body.to_vec(), vec![decode_base64(sig)?])
        }
        SignatureScheme::Zendesk => {
            let sig = header(req, "x-zendesk-webhook-signature")?;
            let ts = header(req, "x-zendesk-webhook-signature-timestamp")?;
            let at = DateTime::parse_from_rfc3339(ts)
                .map_err(|e| SignatureError::Malformed(format!("timestamp: {e}")))?
                .timestamp();
            check_age(at, now, tolerance)?;
            (concat(&[ts.as_bytes(), body]), vec![decode_base64(sig)?])
        }
        SignatureScheme::Hubspot => {
            let sig = header(req, "x-hubspot-signature-v3")?;
            let ts = header(req, "x-hubspot-request-timestamp")?;
            let ms: i64 = ts
                .parse()
                .map_err(|_| SignatureError::Malformed("timestamp is not milliseconds".into()))?;
            check_age(ms / 1000, now, tolerance)?;
            let host = header(req, "host")?;
            let query = if req.raw_query.is_empty() {
                String::new()
            } else {
                format!("?{}", req.raw_query)
            };
            let uri = format!("https://{host}{}{query}", req.path);
            (
                concat(&[req.method.as_bytes(), uri.as_bytes(), body, ts.as_bytes()]),
                vec![decode_base64(sig)?],
            )
        }
        SignatureScheme::Generic => {
            let name = spec
                .header
                .as_deref()
                .unwrap_or("x-signature")
                .to_ascii_lowercase();
            let sig = req
                .headers
                .get(&name)
                .ok_or(SignatureError::Missing("signature header"))?;
            let sig = sig
                .strip_prefix(spec.prefix.as_deref().unwrap_or(""))
                .ok_or_else(|| SignatureError::Malformed("unexpected prefix".into()))?;
            let digest = match spec.encoding.as_ref().unwrap_or(&DigestEncoding::Hex) {
                DigestEncoding::Hex => decode_hex(sig)?,
                DigestEncoding::Base64 => decode_base64(sig)?,
            };
            match spec.timestamp_header.as_deref() {
                // Stripe's form: the timestamp is signed with the body, so
                // a captured request stops verifying once it is stale.
                Some(ts_header) => {
                    let ts = req
                        .header(ts_header)
                        .ok_or(SignatureError::Missing("timestamp header"))?
                        .trim();
                    check_age(parse_unix(ts)?, now, tolerance)?;
                    (concat(&[ts.as_bytes(), b".", body]), vec![digest])
                }
                None => (body.to_vec(), vec![digest]),
            }
        }
    };
    let matches = digests
        .iter()
        .any(|digest| signing::verifies_under_any(secret.candidates(), &signed, digest));
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// HMAC-SHA256 of `message` as lower-case hex: for signing outbound calls
/// and for tests.
pub fn hmac_hex(key: &str, message: &[u8]) -> String {
    hex::encode(signing::hmac_sha256(key, message))
}

fn header<'a>(req: &'a HttpRequest, name: &'static str) -> Result<&'a str, SignatureError> {
    req.header(name).ok_or(SignatureError::Missing(name))
}

fn hex_after(value: &str, prefix: &str) -> Result<Vec<u8>, SignatureError> {
    let digest = value
        .strip_prefix(prefix)
        .ok_or_else(|| SignatureError::Malformed(format!("expected `{prefix}` prefix")))?;
    decode_hex(digest)
}

fn decode_hex(s: &str) -> Result<Vec<u8>, SignatureError> {
    hex::decode(s.trim()).map_err(|_| SignatureError::Malformed("digest is not hex".into()))
}

fn decode_base64(s: &str) -> Result<Vec<u8>, SignatureError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| SignatureError::Malformed("digest is not base64".into()))
}

fn parse_unix(s: &str) -> Result<i64, SignatureError> {
    s.trim()
        .parse()
        .map_err(|_| SignatureError::Malformed("timestamp is not a number".into()))
}

fn check_age(at: i64, now: DateTime<Utc>, tolerance: u64) -> Result<(), SignatureError> {
    if now.timestamp().abs_diff(at) > tolerance {
        return Err(SignatureError::Stale { tolerance });
    }
    Ok(())
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
