//! Signs a webhook body the way the workflow's sender would, with the local
//! secret: how `handoff demo`, `handoff run` and the tests deliver the
//! events/ samples to a running stack.

use base64::Engine;
use chrono::{DateTime, Utc};
use handoff_spec::{DigestEncoding, SignatureScheme, TriggerSpec};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

fn hmac(key: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The headers that make `body` verify under `trigger` with `secret`.
/// `host` and `path` matter only to schemes that sign the URL (HubSpot).
pub fn signature_headers(
    trigger: &TriggerSpec,
    secret: &str,
    body: &[u8],
    host: &str,
    path: &str,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let spec = &trigger.signature;
    let ts = now.timestamp().to_string();
    let h = |k: &str, v: String| (k.to_string(), v);
    match spec.scheme {
        SignatureScheme::Github => vec![h(
            "x-hub-signature-256",
            format!("sha256={}", hex::encode(hmac(secret, body))),
        )],
        SignatureScheme::Stripe => {
            let signed = [ts.as_bytes(), b".", body].concat();
            vec![h(
                "stripe-signature",
                format!("t={ts},v1={}", hex::encode(hmac(secret, &signed))),
            )]
        }
        SignatureScheme::Slack => {
            let signed = [b"v0:", ts.as_bytes(), b":", body].concat();
            vec![
                h("x-slack-request-timestamp", ts.clone()),
                h(
                    "x-slack-signature",
                    format!("v0={}", hex::encode(hmac(secret, &signed))),
                ),
            ]
        }
        SignatureScheme::Shopify => vec![h("x-shopify-hmac-sha256", b64(&hmac(secret, body)))],
        SignatureScheme::Zendesk => {
            let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let signed = [at.as_bytes(), body].concat();
            vec![
                h("x-zendesk-webhook-signature-timestamp", at),
                h("x-zendesk-webhook-signature", b64(&hmac(secret, &signed))),
            ]
        }
        SignatureScheme::Hubspot => {
            let ms = now.timestamp_millis().to_string();
            let uri = format!("https://{host}{path}");
            let signed = [b"POST".as_slice(), uri.as_bytes(), body, ms.as_bytes()].concat();
            vec![
                h("x-hubspot-request-timestamp", ms),
                h("x-hubspot-signature-v3", b64(&hmac(secret, &signed))),
            ]
        }
        SignatureScheme::Generic => {
            let digest = hmac(secret, body);
            let encoded = match spec.encoding.as_ref().unwrap_or(&DigestEncoding::Hex) {
                DigestEncoding::Hex => hex::encode(digest),
                DigestEncoding::Base64 => b64(&digest),
            };
            vec![h(
                &spec
                    .header
                    .as_deref()
                    .unwrap_or("x-signature")
                    .to_ascii_lowercase(),
                format!("{}{encoded}", spec.prefix.as_deref().unwrap_or("")),
            )]
        }
    }
}

/// Gives a payload a fresh delivery id where the spec looks for one: the
/// JSON field (simple `$.a.b` paths) or the header it names.
pub fn set_delivery_id(
    trigger: &TriggerSpec,
    payload: &mut Value,
    id: &str,
) -> Option<(String, String)> {
    let spec = trigger.delivery_id.as_ref()?;
    if let Some(header) = &spec.header {
        return Some((header.to_ascii_lowercase(), id.to_string()));
    }
    let path = spec.json_path.as_deref()?.strip_prefix("$.")?;
    let mut target = payload;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        target = target.get_mut(*part)?;
    }
    target.as_object_mut()?.insert(
        parts[parts.len() - 1].to_string(),
        Value::String(id.to_string()),
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::http::HttpRequest;
    use handoff_core::ports::Secret;

    #[test]
    fn every_seed_workflow_verifies_what_we_sign() {
        let catalog = handoff_workflows::catalog();
        let now = Utc::now();
        for name in catalog.names() {
            let trigger = &catalog.get(name).unwrap().spec.trigger;
            let body = br#"{"hello":"world"}"#;
            let path = format!("/webhooks/{name}");
            let mut headers: std::collections::BTreeMap<String, String> =
                signature_headers(trigger, "s3cret", body, "127.0.0.1:3000", &path, now)
                    .into_iter()
                    .collect();
            headers.insert("host".into(), "127.0.0.1:3000".into());
            headers.insert("content-type".into(), "application/json".into());
            let req = HttpRequest {
                method: "POST".into(),
                path,
                headers,
                body: body.to_vec(),
                ..Default::default()
            };
            handoff_core::trigger::verify(&trigger.signature, &Secret::new("s3cret"), &req, now)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
