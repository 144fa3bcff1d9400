use handoff_spec::{SignatureScheme, TriggerSpec};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::http::HttpRequest;

/// The sender's own delivery id, so its retries are recognised: the spec's
/// header or JSON path, else the scheme's usual place, else a hash of the
/// verified body (a retry resends the same bytes).
pub fn delivery_id(trigger: &TriggerSpec, req: &HttpRequest, payload: &Value) -> String {
    let configured = trigger.delivery_id.as_ref().and_then(|d| {
        d.header
            .as_deref()
            .and_then(|h| req.header(h).map(str::to_string))
            .or_else(|| d.json_path.as_deref().and_then(|p| first_match(payload, p)))
    });
    configured
        .or_else(|| scheme_default(trigger.signature.scheme, req, payload))
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&req.body))))
}

fn scheme_default(scheme: SignatureScheme, req: &HttpRequest, payload: &Value) -> Option<String> {
    let header = |name: &str| req.header(name).map(str::to_string);
    match scheme {
        SignatureScheme::Github => header("x-github-delivery"),
        SignatureScheme::Stripe => first_match(payload, "$.id"),
        SignatureScheme::Slack => first_match(payload, "$.event_id"),
        SignatureScheme::Shopify => header("x-shopify-webhook-id"),
        SignatureScheme::Zendesk => header("x-zendesk-webhook-invocation-id"),
        SignatureScheme::Hubspot => {
            first_match(payload, "$.eventId").or_else(|| first_match(payload, "$[0].eventId"))
        }
        SignatureScheme::Generic => None,
    }
}

fn first_match(payload: &Value, path: &str) -> Option<String> {
    let path = serde_json_path::JsonPath::parse(path).ok()?;
    match path.query(payload).first()? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
