//! Payload normalisation: content type check, body parsing (JSON, forms,
//! forms with files, raw e-mail, base64 documents in JSON, as the spec
//! allows), JSONPath field mapping and the delivery id, on arbitrary
//! bodies and paths. Never a panic; a mapping that succeeds has every
//! required field.
#![no_main]

use std::collections::BTreeMap;

use handoff_core::http::HttpRequest;
use handoff_core::trigger::{check_content_type, delivery_id, map_fields, parse_body};
use handoff_spec::{
    DeliveryIdSpec, DocumentIntakeSpec, EmailIntakeSpec, JsonDocumentsSpec, SignatureScheme,
    SignatureSpec, TriggerSpec, UrlDocumentsSpec,
};
use libfuzzer_sys::{arbitrary, fuzz_target};

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    content_type: ContentType,
    body: Vec<u8>,
    fields: Vec<(String, Path)>,
    required: Vec<String>,
    scheme: u8,
    delivery_path: Option<Path>,
    delivery_header: Option<(String, String)>,
    documents: Option<(Path, u8)>,
    email: Option<String>,
}

#[derive(Debug, arbitrary::Arbitrary)]
enum ContentType {
    Json,
    JsonCharset,
    Form,
    FormData(String),
    Email,
    Other(String),
}

/// Mostly plausible JSONPaths, so the mapping is reached, sometimes garbage.
#[derive(Debug, arbitrary::Arbitrary)]
enum Path {
    Member(Vec<String>),
    Index(String, i32),
    Raw(String),
}

impl Path {
    fn render(&self) -> String {
        match self {
            Path::Member(names) => {
                let mut p = String::from("$");
                for n in names {
                    p.push_str(&format!("[{}]", serde_json::Value::String(n.clone())));
                }
                p
            }
            Path::Index(name, i) => format!("$[{}][{i}]", serde_json::Value::String(name.clone())),
            Path::Raw(s) => s.clone(),
        }
    }
}

/// The one link prefix the fuzzed trigger fetches from.
const ALLOWED_LINKS: &str = "https://files.example/att/";

const SCHEMES: [SignatureScheme; 7] = [
    SignatureScheme::Github,
    SignatureScheme::Stripe,
    SignatureScheme::Slack,
    SignatureScheme::Shopify,
    SignatureScheme::Zendesk,
    SignatureScheme::Hubspot,
    SignatureScheme::Generic,
];

fuzz_target!(|input: Input| {
    let content_type = match &input.content_type {
        ContentType::Json => "application/json".to_string(),
        ContentType::JsonCharset => "Application/JSON; charset=utf-8".to_string(),
        ContentType::Form => "application/x-www-form-urlencoded".to_string(),
        ContentType::FormData(boundary) => format!("multipart/form-data; boundary={boundary}"),
        ContentType::Email => "message/rfc822".to_string(),
        ContentType::Other(s) => s.clone(),
    };
    let fields: BTreeMap<String, String> = input
        .fields
        .iter()
        .map(|(name, path)| (name.clone(), path.render()))
        .collect();
    let trigger = TriggerSpec {
        signature: SignatureSpec {
            scheme: SCHEMES[usize::from(input.scheme) % SCHEMES.len()],
            secret: "fuzz".into(),
            tolerance_seconds: None,
            header: None,
            prefix: None,
            encoding: None,
            timestamp_header: None,
        },
        delivery_id: match (&input.delivery_header, &input.delivery_path) {
            (Some((name, _)), _) => Some(DeliveryIdSpec {
                header: Some(name.clone()),
                json_path: None,
            }),
            (None, Some(path)) => Some(DeliveryIdSpec {
                header: None,
                json_path: Some(path.render()),
            }),
            (None, None) => None,
        },
        fields,
        required: input.required.clone(),
        dedupe: None,
        documents: input.documents.as_ref().map(|(items, limits)| DocumentIntakeSpec {
            json: Some(JsonDocumentsSpec {
                items: items.render(),
                content: "content".into(),
                name: Some("name".into()),
                media_type: None,
            }),
            urls: Some(UrlDocumentsSpec {
                items: items.render(),
                url: "url".into(),
                name: Some("name".into()),
                media_type: None,
                allow: vec![ALLOWED_LINKS.into()],
                auth: None,
                timeout_ms: 1_000,
            }),
            max_count: usize::from(limits % 4) + 1,
            max_bytes: usize::from(limits / 4) * 16 + 1,
            ..DocumentIntakeSpec::default()
        }),
        email: input.email.as_ref().map(|id| EmailIntakeSpec {
            authserv_id: Some(id.clone()),
            ..EmailIntakeSpec::default()
        }),
    };
    let ct = Some(content_type.as_str());
    let accepted = check_content_type(&trigger, ct).is_ok();
    let parsed = match parse_body(&trigger, ct, &input.body) {
        Ok(p) => p,
        Err(_) => return,
    };
    assert!(accepted, "a body was parsed under a refused content type");
    let limits = trigger.documents.clone().unwrap_or_default();
    assert!(parsed.attachments.len() + parsed.linked.len() <= limits.max_count);
    assert!(parsed.attachments.iter().all(|a| a.bytes.len() <= limits.max_bytes));
    // A link is only ever one under the allowed prefix, numbered after the
    // inline documents, and its item says which document it is.
    for (i, link) in parsed.linked.iter().enumerate() {
        assert_eq!(link.index, parsed.attachments.len() + i);
        assert!(link.url.as_str().starts_with(ALLOWED_LINKS), "{}", link.url);
        assert!(link.url.username().is_empty() && link.url.password().is_none());
    }
    let payload = parsed.payload;
    if let Ok(mapped) = map_fields(&trigger, &payload) {
        for name in &input.required {
            let value = mapped.get(name).expect("required field mapped");
            assert!(!value.is_null() && value.as_str() != Some(""));
        }
    }
    let mut req = HttpRequest {
        method: "POST".into(),
        body: input.body.clone(),
        ..Default::default()
    };
    if let Some((name, value)) = &input.delivery_header {
        req.headers.insert(name.to_ascii_lowercase(), value.clone());
    }
    let id = delivery_id(&trigger, &req, &payload);
    assert!(!id.is_empty(), "a delivery id is never empty");
});
