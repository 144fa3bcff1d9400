//! Documents in a webhook: base64 in a JSON body, files in a form; taken
//! out of the payload within the spec's limits.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use handoff_core::trigger::{
    check_content_type, parse_body, parse_form_data, take_json_documents, take_linked_documents,
    BodyError,
};
use handoff_spec::{DocumentIntakeSpec, JsonDocumentsSpec, TriggerSpec, UrlDocumentsSpec};
use serde_json::{json, Value};

const PDF: &[u8] = b"%PDF-1.7\n%%EOF\n";
const TIFF: &[u8] = b"II*\0\x08\0\0\0";

fn json_documents(max_count: usize, max_bytes: usize) -> DocumentIntakeSpec {
    DocumentIntakeSpec {
        json: Some(JsonDocumentsSpec {
            items: "$.attachments[*]".into(),
            content: "content_base64".into(),
            name: Some("filename".into()),
            media_type: Some("type".into()),
        }),
        max_count,
        max_bytes,
        ..DocumentIntakeSpec::default()
    }
}

fn invoice_event() -> Value {
    json!({
        "invoice": {"number": "INV-42"},
        "attachments": [
            {"filename": "invoice.pdf", "type": "application/pdf", "content_base64": B64.encode(PDF)},
            {"filename": "link-only.pdf", "url": "https://files.example/x"},
            {"filename": "scan.tiff", "content_base64": B64.encode(TIFF).trim_end_matches('=')},
        ],
    })
}

#[test]
fn base64_documents_are_taken_out_of_the_payload() {
    let mut payload = invoice_event();
    let docs = take_json_documents(&json_documents(10, 1024), &mut payload).unwrap();
    assert_eq!(
        payload,
        json!({
            "invoice": {"number": "INV-42"},
            "attachments": [
                {"filename": "invoice.pdf", "type": "application/pdf", "document": 0},
                {"filename": "link-only.pdf", "url": "https://files.example/x"},
                {"filename": "scan.tiff", "document": 1},
            ],
        })
    );
    assert!(!payload.to_string().contains("content_base64"));
    let got: Vec<_> = docs
        .iter()
        .map(|d| (d.name.as_deref(), d.declared_type.as_deref(), &d.bytes[..]))
        .collect();
    assert_eq!(
        got,
        [
            (Some("invoice.pdf"), Some("application/pdf"), PDF),
            (Some("scan.tiff"), None, TIFF),
        ]
    );
}

#[test]
fn without_a_json_location_the_payload_is_left_alone() {
    let mut payload = invoice_event();
    let docs = take_json_documents(&DocumentIntakeSpec::default(), &mut payload).unwrap();
    assert!(docs.is_empty());
    assert_eq!(payload, invoice_event());
}

#[test]
fn bad_base64_is_refused() {
    for bad in [json!("JVBERi0x*LjcK"), json!({"b64": "JVBE"}), json!(12)] {
        let mut payload = json!({"attachments": [
            {"content_base64": B64.encode(PDF)},
            {"content_base64": bad},
        ]});
        let err = take_json_documents(&json_documents(10, 1024), &mut payload).unwrap_err();
        assert_eq!(err, BodyError::NotBase64 { index: 1 });
        assert_eq!(err.to_string(), "document 1 is not base64");
    }
}

#[test]
fn the_encoded_length_is_checked_before_decoding() {
    // Not base64 at all, but too long to be within the limit once decoded:
    // refused for its size, so it was never decoded.
    let mut payload = json!({"attachments": [{"content_base64": "!".repeat(1400)}]});
    let err = take_json_documents(&json_documents(10, 1024), &mut payload).unwrap_err();
    assert_eq!(
        err,
        BodyError::DocumentTooLarge {
            index: 0,
            limit: 1024
        }
    );
    // Exactly the limit is taken; one byte more is not.
    let at_limit =
        |len: usize| json!({"attachments": [{"content_base64": B64.encode(vec![1u8; len])}]});
    assert!(take_json_documents(&json_documents(10, 1024), &mut at_limit(1024)).is_ok());
    let err = take_json_documents(&json_documents(10, 1024), &mut at_limit(1025)).unwrap_err();
    assert_eq!(err.code(), "document_too_large");
}

#[test]
fn too_many_json_documents_are_refused_before_any_is_decoded() {
    let mut payload = json!({"attachments": [
        {"content_base64": "not base64 at all"},
        {"content_base64": B64.encode(PDF)},
        {"content_base64": B64.encode(PDF)},
    ]});
    let err = take_json_documents(&json_documents(2, 1024), &mut payload).unwrap_err();
    assert_eq!(err, BodyError::TooManyDocuments { limit: 2 });
    assert_eq!(err.to_string(), "more than 2 documents in one delivery");
}

fn trigger(documents: Value) -> TriggerSpec {
    serde_json::from_value(json!({
        "signature": {"scheme": "generic", "secret": "docs/webhook", "header": "X-Signature"},
        "fields": {"text": "$.note"},
        "documents": documents,
    }))
    .unwrap()
}

#[test]
fn a_json_webhook_stores_its_payload_without_the_documents() {
    let spec = trigger(json!({
        "json": {"items": "$.attachments[*]", "content": "content_base64", "name": "filename"}
    }));
    let body = serde_json::to_vec(&invoice_event()).unwrap();
    let parsed = parse_body(&spec, Some("application/json"), &body).unwrap();
    assert_eq!(parsed.attachments.len(), 2);
    assert_eq!(parsed.payload["attachments"][2]["document"], 1);
    assert!(!parsed.payload.to_string().contains("content_base64"));
}

const BOUNDARY: &str = "----handoff-form-7d1";

/// One part of a form: its name, its file name and media type if it is a
/// file, and its content.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some((file_name, media_type)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {media_type}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn form_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

#[test]
fn a_form_with_a_payload_part_and_two_files() {
    let body = form(&[
        (
            "payload",
            None,
            br#"{"note": "two invoices", "supplier": "ACME"}"#,
        ),
        ("files", Some(("invoice-1.pdf", "application/pdf")), PDF),
        ("files", Some(("scan 2.tiff", "image/tiff")), TIFF),
        ("ignored", None, b"the payload part is the payload"),
    ]);
    let (payload, docs) =
        parse_form_data(&form_type(), &body, &DocumentIntakeSpec::default()).unwrap();
    assert_eq!(payload, json!({"note": "two invoices", "supplier": "ACME"}));
    let got: Vec<_> = docs
        .iter()
        .map(|d| (d.name.as_deref(), d.declared_type.as_deref(), &d.bytes[..]))
        .collect();
    assert_eq!(
        got,
        [
            (Some("invoice-1.pdf"), Some("application/pdf"), PDF),
            (Some("scan 2.tiff"), Some("image/tiff"), TIFF),
        ]
    );
}

#[test]
fn a_forms_text_parts_become_the_payload() {
    let body = form(&[
        ("note", None, "Rechnung über 12 €".as_bytes()),
        ("supplier", None, b"ACME"),
        ("file", Some(("", "application/octet-stream")), b""),
    ]);
    let (payload, docs) =
        parse_form_data(&form_type(), &body, &DocumentIntakeSpec::default()).unwrap();
    assert_eq!(
        payload,
        json!({"note": "Rechnung über 12 €", "supplier": "ACME"})
    );
    assert!(docs.is_empty(), "an empty file input is no document");
}

#[test]
fn a_forms_files_are_held_to_the_limits() {
    let body = form(&[
        ("a", Some(("a.pdf", "application/pdf")), PDF),
        ("b", Some(("b.pdf", "application/pdf")), PDF),
    ]);
    let one = DocumentIntakeSpec {
        max_count: 1,
        ..DocumentIntakeSpec::default()
    };
    let err = parse_form_data(&form_type(), &body, &one).unwrap_err();
    assert_eq!(err, BodyError::TooManyDocuments { limit: 1 });
    let small = DocumentIntakeSpec {
        max_bytes: PDF.len() - 1,
        ..DocumentIntakeSpec::default()
    };
    let err = parse_form_data(&form_type(), &body, &small).unwrap_err();
    assert_eq!(
        err,
        BodyError::DocumentTooLarge {
            index: 0,
            limit: PDF.len() - 1
        }
    );
}

#[test]
fn a_broken_form_is_malformed() {
    let body = form(&[("payload", None, b"{not json")]);
    let err = parse_form_data(&form_type(), &body, &DocumentIntakeSpec::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("malformed body: payload part"),
        "{err}"
    );
    for (ct, body) in [
        ("multipart/form-data", form(&[("a", None, b"x")])),
        (
            form_type().as_str(),
            b"--other\r\n\r\nx\r\n--other--\r\n".to_vec(),
        ),
        (
            form_type().as_str(),
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ncut off")
                .into_bytes(),
        ),
    ] {
        let err = parse_form_data(ct, &body, &DocumentIntakeSpec::default()).unwrap_err();
        assert!(matches!(err, BodyError::Malformed(_)), "{ct}: {err:?}");
    }
}

#[test]
fn a_form_with_files_is_taken_only_where_documents_are_declared() {
    let body = form(&[("files", Some(("invoice.pdf", "application/pdf")), PDF)]);
    let ct = form_type();
    let plain: TriggerSpec = serde_json::from_value(json!({
        "signature": {"scheme": "github", "secret": "docs/webhook"},
        "fields": {"text": "$.note"},
    }))
    .unwrap();
    let err = check_content_type(&plain, Some(&ct)).unwrap_err();
    assert_eq!(
        err,
        BodyError::UnsupportedType {
            got: "multipart/form-data".into(),
            accepted: "application/json or application/x-www-form-urlencoded".into()
        }
    );
    assert_eq!(parse_body(&plain, Some(&ct), &body).unwrap_err(), err);

    let spec = trigger(json!({}));
    check_content_type(&spec, Some(&ct)).unwrap();
    let parsed = parse_body(&spec, Some(&ct), &body).unwrap();
    assert_eq!(parsed.attachments[0].bytes, PDF);
    assert!(check_content_type(&spec, Some("message/rfc822")).is_err());
}

fn linked_documents(max_count: usize) -> DocumentIntakeSpec {
    DocumentIntakeSpec {
        urls: Some(UrlDocumentsSpec {
            items: "$.attachments[*]".into(),
            url: "url".into(),
            name: Some("filename".into()),
            media_type: None,
            allow: vec!["https://files.example/".into()],
            auth: None,
            timeout_ms: 5_000,
        }),
        ..json_documents(max_count, 1024)
    }
}

#[test]
fn links_are_numbered_after_the_inline_documents() {
    let spec = linked_documents(10);
    let mut payload = invoice_event();
    let inline = take_json_documents(&spec, &mut payload).unwrap();
    let linked = take_linked_documents(&spec, &mut payload, inline.len()).unwrap();

    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].index, 2);
    assert_eq!(linked[0].url.as_str(), "https://files.example/x");
    assert_eq!(linked[0].name.as_deref(), Some("link-only.pdf"));
    assert_eq!(payload["attachments"][1]["document"], 2);
    assert_eq!(payload["attachments"][0]["document"], 0);
}

#[test]
fn a_link_counts_against_the_limit_before_anything_is_fetched() {
    let spec = linked_documents(2);
    let mut payload = invoice_event();
    let inline = take_json_documents(&spec, &mut payload).unwrap();
    let err = take_linked_documents(&spec, &mut payload, inline.len()).unwrap_err();
    assert_eq!(err, BodyError::TooManyDocuments { limit: 2 });
}

#[test]
fn a_link_elsewhere_is_refused_by_its_index() {
    let spec = linked_documents(10);
    let mut payload = json!({"attachments": [
        {"url": "https://files.example/a.pdf"},
        {"url": "https://files.example.attacker.example/b.pdf"},
    ]});
    let err = take_linked_documents(&spec, &mut payload, 0).unwrap_err();
    assert_eq!(err, BodyError::LinkNotAllowed { index: 1 });
    assert_eq!(err.code(), "document_link_not_allowed");
}
