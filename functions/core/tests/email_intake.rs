//! Raw e-mail as a webhook body: the payload a spec maps, the attachments
//! taken as documents, and whose word on the sender counts.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use handoff_core::trigger::{
    authentication_results, check_content_type, parse_body, parse_email, Authentication, BodyError,
    Verdict,
};
use handoff_spec::{DocumentIntakeSpec, TriggerSpec};
use serde_json::json;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const TRUSTED: &str = "mx.handoff.example";

/// Base64 in 76-character lines, as mail clients write it.
fn mime_base64(bytes: &[u8]) -> String {
    B64.encode(bytes)
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A supplier's invoice as a mail client sends it, then as the receiving
/// server delivers it: its verdicts on top, a forged header the sender
/// wrote below, and a forwarded scan inside.
fn invoice_mail(auth_headers: &str, message_id: Option<&str>) -> Vec<u8> {
    let message_id = message_id
        .map(|id| format!("Message-ID: <{id}>\r\n"))
        .unwrap_or_default();
    format!(
        "{auth_headers}\
Received: from mail.supplier.example (mail.supplier.example [192.0.2.10])\r
\tby mx.handoff.example with ESMTPS id 4f; Thu, 15 Jan 2026 09:30:02 +0100\r
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <billing@supplier.example>\r
To: invoices@acme.example, \"AP Team\" <ap@acme.example>\r
Cc: controller@acme.example\r
Reply-To: accounts@supplier.example\r
Subject: =?UTF-8?B?UmVjaG51bmcgTnIuIDQyIOKAkyBNw6Ryeg==?=\r
Date: Thu, 15 Jan 2026 09:30:00 +0100\r
{message_id}\
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary=\"mixed-b1\"\r
\r
This is a multi-part message in MIME format.\r
--mixed-b1\r
Content-Type: multipart/alternative; boundary=\"alt-b2\"\r
\r
--alt-b2\r
Content-Type: text/plain; charset=UTF-8\r
Content-Transfer-Encoding: quoted-printable\r
\r
Guten Tag,\r
\r
anbei die Rechnung Nr. 42 =C3=BCber 1.234,50 =E2=82=AC, zahlbar bis zum 14. F=\r
ebruar.\r
--alt-b2\r
Content-Type: text/html; charset=UTF-8\r
\r
<html><body><p>Guten Tag,</p><p>anbei die <b>Rechnung</b> Nr. 42.</p></body></html>\r
--alt-b2--\r
--mixed-b1\r
Content-Type: application/pdf; name=\"invoice-42.pdf\"\r
Content-Disposition: attachment; filename=\"invoice-42.pdf\"\r
Content-Transfer-Encoding: base64\r
\r
{pdf}\r
--mixed-b1\r
Content-Type: message/rfc822\r
Content-Disposition: attachment\r
\r
From: Scanner <scanner@supplier.example>\r
To: billing@supplier.example\r
Subject: Scan 7\r
Message-ID: <scan-7@supplier.example>\r
MIME-Version: 1.0\r
Content-Type: multipart/mixed; boundary=\"inner-b3\"\r
\r
--inner-b3\r
Content-Type: text/plain\r
\r
Scanned document attached.\r
--inner-b3\r
Content-Type: image/png\r
Content-Disposition: attachment; filename=\"scan-7.png\"\r
Content-Transfer-Encoding: base64\r
\r
{png}\r
--inner-b3--\r
\r
--mixed-b1--\r
",
        pdf = mime_base64(PDF),
        png = mime_base64(PNG),
    )
    .into_bytes()
}

/// The trusted server's verdicts on top, then what the sender wrote
/// itself: a header in the trusted server's name and one in another's.
const DELIVERED: &str = "Authentication-Results: mx.handoff.example;\r
\tspf=pass (sender IP is 192.0.2.10) smtp.mailfrom=supplier.example;\r
\tdkim=pass header.d=supplier.example; dmarc=pass header.from=supplier.example\r
Authentication-Results: mx.handoff.example; spf=fail; dkim=fail; dmarc=fail\r
Authentication-Results: mail.supplier.example; dmarc=pass\r
";

fn limits() -> DocumentIntakeSpec {
    DocumentIntakeSpec::default()
}

fn trusted_auth(raw: &[u8]) -> Authentication {
    let headers = authentication_results(raw);
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    Authentication::from_authentication_results(&headers, TRUSTED)
}

#[test]
fn a_real_world_invoice_mail_parses_to_the_payload() {
    let raw = invoice_mail(DELIVERED, Some("20260115093000.42@supplier.example"));
    let email = parse_email(&raw, trusted_auth(&raw), &limits()).unwrap();
    assert_eq!(
        email.payload,
        json!({
            "message_id": "20260115093000.42@supplier.example",
            "from": "billing@supplier.example",
            "from_name": "Jürgen Müller",
            "to": ["invoices@acme.example", "ap@acme.example"],
            "cc": ["controller@acme.example"],
            "reply_to": "accounts@supplier.example",
            "subject": "Rechnung Nr. 42 – März",
            "date": "2026-01-15T09:30:00+01:00",
            "text": "Guten Tag,\r\n\r\nanbei die Rechnung Nr. 42 über 1.234,50 €, zahlbar bis zum 14. Februar.",
            "authentication": {
                "spf": "pass", "dkim": "pass", "dmarc": "pass", "sender_authenticated": true
            },
            "attachments": [
                {"name": "invoice-42.pdf", "media_type": "application/pdf", "document": 0},
                {"name": "scan-7.png", "media_type": "image/png", "document": 1},
            ],
        })
    );
    assert_eq!(
        email.message_id.as_deref(),
        Some("20260115093000.42@supplier.example")
    );
    let docs: Vec<_> = email
        .attachments
        .iter()
        .map(|a| (a.name.as_deref(), a.declared_type.as_deref(), &a.bytes[..]))
        .collect();
    assert_eq!(
        docs,
        [
            (Some("invoice-42.pdf"), Some("application/pdf"), PDF),
            (Some("scan-7.png"), Some("image/png"), PNG),
        ]
    );
}

#[test]
fn an_html_only_message_gives_its_text() {
    let raw = b"From: a@b.example\r\nSubject: hi\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Please pay <b>invoice 42</b>.</p></body></html>\r\n";
    let email = parse_email(raw, Authentication::unverified(), &limits()).unwrap();
    let text = email.payload["text"].as_str().unwrap();
    assert!(text.contains("Please pay invoice 42."), "{text:?}");
    assert!(!text.contains('<'), "{text:?}");
}

#[test]
fn the_trusted_servers_verdicts_are_the_ones_given() {
    let raw = invoice_mail(DELIVERED, None);
    let auth = trusted_auth(&raw);
    assert_eq!(
        (auth.spf, auth.dkim, auth.dmarc),
        (Verdict::Pass, Verdict::Pass, Verdict::Pass)
    );
    assert!(auth.sender_authenticated());

    let failed = "Authentication-Results: MX.Handoff.Example; spf=softfail smtp.mailfrom=x.example;\r\n dkim=fail (bad signature) header.d=x.example; dmarc=fail header.from=x.example\r\n";
    let auth = trusted_auth(&invoice_mail(failed, None));
    assert_eq!(
        (auth.spf, auth.dkim, auth.dmarc),
        (Verdict::Other, Verdict::Fail, Verdict::Fail)
    );
    assert!(!auth.sender_authenticated());
    let email = parse_email(&invoice_mail(failed, None), auth, &limits()).unwrap();
    assert_eq!(
        email.payload["authentication"],
        json!({"spf": "other", "dkim": "fail", "dmarc": "fail", "sender_authenticated": false})
    );
}

#[test]
fn another_servers_results_are_ignored() {
    let other =
        "Authentication-Results: mail.supplier.example; spf=pass; dkim=pass; dmarc=pass\r\n";
    let auth = trusted_auth(&invoice_mail(other, None));
    assert_eq!(auth, Authentication::unverified());
    assert!(!auth.sender_authenticated());
    // The trusted id in a comment or as a prefix names no one.
    let lookalike = "Authentication-Results: (mx.handoff.example) evil.example; dmarc=pass\r\nAuthentication-Results: mx.handoff.example.evil.example; dmarc=pass\r\n";
    assert_eq!(
        trusted_auth(&invoice_mail(lookalike, None)),
        Authentication::unverified()
    );
    // Nothing trusted at all: the verdicts stay none.
    let raw = invoice_mail(DELIVERED, None);
    assert_eq!(
        Authentication::from_authentication_results(
            &authentication_results(&raw)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            " ",
        ),
        Authentication::unverified()
    );
}

#[test]
fn a_forged_header_below_the_trusted_one_does_not_win() {
    let headers = authentication_results(&invoice_mail(DELIVERED, None));
    assert_eq!(headers.len(), 3, "{headers:?}");
    assert!(headers[1].contains("dmarc=fail"));
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let auth = Authentication::from_authentication_results(&refs, TRUSTED);
    assert_eq!(auth.dmarc, Verdict::Pass);
    // The other way round the topmost one still decides: a server's own
    // header is always above what it received.
    let reversed = [refs[1], refs[0]];
    let auth = Authentication::from_authentication_results(&reversed, TRUSTED);
    assert_eq!(
        (auth.spf, auth.dkim, auth.dmarc),
        (Verdict::Fail, Verdict::Fail, Verdict::Fail)
    );
}

#[test]
fn a_message_without_a_message_id_still_parses() {
    let email = parse_email(
        &invoice_mail("", None),
        Authentication::unverified(),
        &limits(),
    )
    .unwrap();
    assert_eq!(email.message_id, None);
    assert_eq!(email.payload["message_id"], json!(null));
    assert_eq!(
        email.payload["authentication"],
        json!({"spf": "none", "dkim": "none", "dmarc": "none", "sender_authenticated": false})
    );
    assert_eq!(email.attachments.len(), 2);
}

#[test]
fn too_many_attachments_are_refused() {
    let one = DocumentIntakeSpec {
        max_count: 1,
        ..limits()
    };
    let refused = parse_email(&invoice_mail("", None), Authentication::unverified(), &one);
    assert_eq!(
        refused.unwrap_err(),
        BodyError::TooManyDocuments { limit: 1 }
    );
}

#[test]
fn an_oversize_attachment_is_refused() {
    let small = DocumentIntakeSpec {
        max_bytes: PDF.len() - 1,
        ..limits()
    };
    let refused = parse_email(
        &invoice_mail("", None),
        Authentication::unverified(),
        &small,
    );
    let err = refused.unwrap_err();
    assert_eq!(
        err,
        BodyError::DocumentTooLarge {
            index: 0,
            limit: PDF.len() - 1
        }
    );
    assert_eq!(err.code(), "document_too_large");
    assert_eq!(
        err.to_string(),
        format!("document 0 is over the limit of {} bytes", PDF.len() - 1)
    );
}

#[test]
fn what_is_not_a_message_is_refused() {
    for (body, why) in [
        (&b""[..], "empty"),
        (b" \r\n\r\n", "empty"),
        (b"{\"invoice\": 42}", "From"),
        (b"just some text\nwith lines\n", "headers"),
        (b"\r\n\r\nbody without headers", "headers"),
        (b"Subject: no sender\r\n\r\nhi", "From"),
    ] {
        let err = parse_email(body, Authentication::unverified(), &limits()).unwrap_err();
        assert!(matches!(err, BodyError::NotAnEmail(_)), "{body:?}: {err:?}");
        assert!(err.to_string().contains(why), "{body:?}: {err}");
        assert_eq!(err.code(), "not_an_email");
    }
}

fn trigger(extra: serde_json::Value) -> TriggerSpec {
    let mut spec = json!({
        "signature": {"scheme": "generic", "secret": "mail/webhook", "header": "X-Signature"},
        "fields": {"text": "$.text", "sender": "$.from"},
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(spec).unwrap()
}

#[test]
fn email_is_taken_only_where_the_spec_declares_it() {
    let raw = invoice_mail(DELIVERED, Some("m-1@supplier.example"));
    let ct = Some("message/rfc822");
    let plain = trigger(json!({}));
    let err = check_content_type(&plain, ct).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported content type `message/rfc822`; this workflow takes application/json or application/x-www-form-urlencoded"
    );
    assert_eq!(parse_body(&plain, ct, &raw).unwrap_err(), err);

    let mail = trigger(json!({"email": {}, "documents": {}}));
    let err = check_content_type(&mail, Some("text/plain")).unwrap_err();
    assert!(err.to_string().ends_with(
        "takes application/json, application/x-www-form-urlencoded, multipart/form-data or message/rfc822"
    ), "{err}");
    check_content_type(&mail, Some("Message/RFC822")).unwrap();
    // No trusted server named: the message's own headers count for nothing.
    let body = parse_body(&mail, ct, &raw).unwrap();
    assert_eq!(body.payload["authentication"]["dmarc"], "none");
    assert_eq!(body.payload["message_id"], "m-1@supplier.example");
    assert_eq!(body.attachments.len(), 2);

    let trusting = trigger(json!({"email": {"authserv_id": TRUSTED}}));
    let body = parse_body(&trusting, ct, &raw).unwrap();
    assert_eq!(body.payload["authentication"]["sender_authenticated"], true);
    // E-mail without `documents` takes attachments within the defaults.
    assert_eq!(body.attachments[0].bytes, PDF);
}
