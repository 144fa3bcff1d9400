//! Signs a webhook body the way the workflow's sender would, with the local
//! secret: how `handoff demo`, `handoff run` and the tests deliver the
//! events/ samples to a running stack.

use base64::Engine;
use chrono::{DateTime, Utc};
use handoff_core::signing::hmac_sha256 as hmac;
use handoff_spec::{DigestEncoding, SignatureScheme, TriggerSpec};
use serde_json::Value;

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
            let mut headers = Vec::new();
            let digest = match spec.timestamp_header.as_deref() {
                Some(ts_header) => {
                    headers.push(h(&ts_header.to_ascii_lowercase(), ts.clone()));
                    hmac(secret, &[ts.as_bytes(), b".", body].concat())
                }
                None => hmac(secret, body),
            };
            let encoded = match spec.encoding.as_ref().unwrap_or(&DigestEncoding::Hex) {
                DigestEncoding::Hex => hex::encode(digest),
                DigestEncoding::Base64 => b64(&digest),
            };
            headers.push(h(
                &spec
                    .header
                    .as_deref()
                    .unwrap_or("x-signature")
                    .to_ascii_lowercase(),
                format!("{}{encoded}", spec.prefix.as_deref().unwrap_or("")),
            ));
            headers
        }
    }
}

/// Makes a payload a fresh delivery with id `id`: the id where the spec
/// looks for one (the JSON field, simple `$.a.b` paths, or the header it
/// names, returned), and the first business key field, if the spec names
/// a key, suffixed with it. A fresh delivery is a new business event with its own
/// bytes; the same body or key again would be taken for a replay.
pub fn set_delivery_id(
    trigger: &TriggerSpec,
    payload: &mut Value,
    id: &str,
) -> Option<(String, String)> {
    // One key field is enough to make the key new; the others (a
    // supplier) may be what context lookups match on.
    let key_path = trigger
        .dedupe
        .as_ref()
        .and_then(|d| d.business_key.first())
        .and_then(|field| trigger.fields.get(field));
    if let Some(Value::String(value)) = key_path.and_then(|path| at_path(payload, path)) {
        *value = format!("{value}-{id}");
    }
    let spec = trigger.delivery_id.as_ref()?;
    if let Some(header) = &spec.header {
        return Some((header.to_ascii_lowercase(), id.to_string()));
    }
    let path = spec.json_path.as_deref()?.strip_prefix("$.")?;
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (at_path(payload, &format!("$.{parent}"))?, last),
        None => (payload, path),
    };
    parent
        .as_object_mut()?
        .insert(last.to_string(), Value::String(id.to_string()));
    None
}

/// The value at a simple `$.a.b` path, if every step exists.
fn at_path<'a>(payload: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.strip_prefix("$.")?
        .split('.')
        .try_fold(payload, |target, part| target.get_mut(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::http::HttpRequest;
    use handoff_core::ports::Secret;

    #[test]
    fn fresh_deliveries_of_one_sample_are_not_replays_of_each_other() {
        let catalog = handoff_workflows::catalog();
        for (workflow, sample) in crate::client::samples() {
            let trigger = &catalog.get(&workflow).unwrap().spec.trigger;
            let fresh = |id: &str| {
                let mut payload = sample.clone();
                let header = set_delivery_id(trigger, &mut payload, id);
                let fields = handoff_core::trigger::map_fields(trigger, &payload).unwrap();
                let key = trigger
                    .dedupe
                    .as_ref()
                    .map(|d| handoff_core::domain::business_key(&fields, &d.business_key));
                (payload, header, key)
            };
            let (a, b) = (fresh("one"), fresh("two"));
            assert_ne!(a.0, b.0, "{workflow}: same body");
            if let (Some(a_key), Some(b_key)) = (&a.2, &b.2) {
                assert!(a_key.is_some(), "{workflow}: no business key");
                assert_ne!(a_key, b_key, "{workflow}: same business key");
            }
        }
    }

    #[test]
    fn a_generic_sender_with_a_signed_timestamp_verifies() {
        let mut trigger = handoff_workflows::catalog()
            .get("invoice-approval")
            .unwrap()
            .spec
            .trigger
            .clone();
        trigger.signature.timestamp_header = Some("X-Handoff-Timestamp".into());
        let now = Utc::now();
        let body = br#"{"hello":"world"}"#;
        let headers: std::collections::BTreeMap<String, String> =
            signature_headers(&trigger, "s3cret", body, "h", "/p", now)
                .into_iter()
                .collect();
        assert_eq!(headers["x-handoff-timestamp"], now.timestamp().to_string());
        let req = HttpRequest {
            method: "POST".into(),
            headers,
            body: body.to_vec(),
            ..Default::default()
        };
        handoff_core::trigger::verify(&trigger.signature, &Secret::new("s3cret"), &req, now)
            .expect("verifies");
    }

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
