use handoff_spec::{SignatureScheme, TriggerSpec};
use serde_json::Value;

use crate::domain::sha256_tag as hash;
use crate::http::HttpRequest;

/// Longer ids are stored as their hash: the dedupe record's key must stay
/// well under DynamoDB's 2048-byte partition key, and a JSON path can pick
/// a value as long as the body.
pub const MAX_DELIVERY_ID_BYTES: usize = 256;

/// The sender's own delivery id, so its retries are recognised: the spec's
/// header or JSON path, else the scheme's usual place, else a hash of the
/// verified body (a retry resends the same bytes). A blank id counts as
/// none, or every delivery with a blank header would be one duplicate.
pub fn delivery_id(trigger: &TriggerSpec, req: &HttpRequest, payload: &Value) -> String {
    let configured = trigger.delivery_id.as_ref().and_then(|d| {
        d.header
            .as_deref()
            .and_then(|h| non_blank(req.header(h)))
            .or_else(|| d.json_path.as_deref().and_then(|p| first_match(payload, p)))
    });
    match configured.or_else(|| scheme_default(trigger.signature.scheme, req, payload)) {
        Some(id) if id.len() <= MAX_DELIVERY_ID_BYTES => id,
        Some(long) => hash(long.as_bytes()),
        None => hash(&req.body),
    }
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn scheme_default(scheme: SignatureScheme, req: &HttpRequest, payload: &Value) -> Option<String> {
    let header = |name: &str| non_blank(req.header(name));
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
    match super::paths::first(path, payload)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_spec::{DeliveryIdSpec, SignatureSpec};
    use serde_json::json;

    fn trigger(scheme: SignatureScheme, delivery: Option<DeliveryIdSpec>) -> TriggerSpec {
        TriggerSpec {
            signature: SignatureSpec {
                scheme,
                secret: "s".into(),
                tolerance_seconds: None,
                header: None,
                prefix: None,
                encoding: None,
                timestamp_header: None,
            },
            delivery_id: delivery,
            fields: Default::default(),
            required: vec![],
            dedupe: None,
            documents: None,
            email: None,
        }
    }

    fn request(headers: &[(&str, &str)], body: &str) -> HttpRequest {
        HttpRequest {
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_blank_header_falls_back_to_the_body_hash() {
        let t = trigger(
            SignatureScheme::Generic,
            Some(DeliveryIdSpec {
                header: Some("X-Delivery-Id".into()),
                json_path: None,
            }),
        );
        let a = delivery_id(
            &t,
            &request(&[("x-delivery-id", " ")], "{\"a\":1}"),
            &json!({}),
        );
        let b = delivery_id(
            &t,
            &request(&[("x-delivery-id", "")], "{\"a\":2}"),
            &json!({}),
        );
        assert!(a.starts_with("sha256:"), "{a}");
        assert_ne!(a, b);
        let g = trigger(SignatureScheme::Github, None);
        let id = delivery_id(&g, &request(&[("x-github-delivery", "")], "{}"), &json!({}));
        assert!(id.starts_with("sha256:"), "{id}");
    }

    #[test]
    fn a_long_id_is_stored_as_its_hash() {
        let t = trigger(
            SignatureScheme::Generic,
            Some(DeliveryIdSpec {
                header: None,
                json_path: Some("$.id".into()),
            }),
        );
        let long = "x".repeat(MAX_DELIVERY_ID_BYTES + 1);
        let id = delivery_id(&t, &request(&[], ""), &json!({ "id": long }));
        assert_eq!(id, hash(long.as_bytes()));
        let fits = "y".repeat(MAX_DELIVERY_ID_BYTES);
        assert_eq!(
            delivery_id(&t, &request(&[], ""), &json!({ "id": fits })),
            fits
        );
    }
}
