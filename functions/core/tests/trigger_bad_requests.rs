//! The catalogue of bad webhooks, through the front door (`Ingest::handle`):
//! each row is a signed sample from events/ with one thing wrong, the status
//! and stable error code it must get, and nothing stored or queued for it.

use crate::trigger_support::*;
use base64::Engine;
use chrono::{TimeZone, Utc};
use handoff_core::http::HttpRequest;
use handoff_core::trigger::{hmac_hex, MAX_BODY_BYTES};

/// When the samples were signed; the harness clock reads the same.
const AT: i64 = 1_768_469_400;

fn scheme_of(req: &HttpRequest) -> String {
    req.path.trim_start_matches("/webhooks/scheme-").to_string()
}

fn b64_hmac(message: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(hex::decode(hmac_hex(TEST_SECRET, message)).unwrap())
}

/// Signs the request as its scheme's sender would at `at`, so a row can
/// reach the checks after the signature.
fn sign_at(req: &mut HttpRequest, at: i64) {
    let body = req.body.clone();
    let scheme = scheme_of(req);
    let (path, raw_query) = (req.path.clone(), req.raw_query.clone());
    let h = &mut req.headers;
    match scheme.as_str() {
        "github" => {
            h.insert(
                "x-hub-signature-256".into(),
                format!("sha256={}", hmac_hex(TEST_SECRET, &body)),
            );
        }
        "stripe" => {
            let signed = [at.to_string().as_bytes(), b".", &body].concat();
            h.insert(
                "stripe-signature".into(),
                format!("t={at},v1={}", hmac_hex(TEST_SECRET, &signed)),
            );
        }
        "slack" | "slack-command" => {
            let signed = [b"v0:", at.to_string().as_bytes(), b":", &body].concat();
            h.insert("x-slack-request-timestamp".into(), at.to_string());
            h.insert(
                "x-slack-signature".into(),
                format!("v0={}", hmac_hex(TEST_SECRET, &signed)),
            );
        }
        "shopify" => {
            h.insert("x-shopify-hmac-sha256".into(), b64_hmac(&body));
        }
        "zendesk" => {
            let ts = Utc
                .timestamp_opt(at, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            h.insert(
                "x-zendesk-webhook-signature".into(),
                b64_hmac(&[ts.as_bytes(), &body].concat()),
            );
            h.insert("x-zendesk-webhook-signature-timestamp".into(), ts);
        }
        "hubspot" => {
            let ts = (at * 1000).to_string();
            let query = if raw_query.is_empty() {
                String::new()
            } else {
                format!("?{raw_query}")
            };
            let uri = format!("https://{}{path}{query}", h["host"]);
            let signed = [b"POST", uri.as_bytes(), &body, ts.as_bytes()].concat();
            h.insert("x-hubspot-signature-v3".into(), b64_hmac(&signed));
            h.insert("x-hubspot-request-timestamp".into(), ts);
        }
        "generic-hex" => {
            h.insert(
                "x-signature".into(),
                format!("sha256={}", hmac_hex(TEST_SECRET, &body)),
            );
        }
        "generic-base64" => {
            h.insert("x-webhook-signature".into(), b64_hmac(&body));
        }
        other => panic!("no signer for {other}"),
    }
}

/// A new body, correctly signed: the rows about bodies are not about
/// signatures.
fn signed_body(req: &mut HttpRequest, body: &[u8]) {
    req.body = body.to_vec();
    sign_at(req, AT);
}

fn set(req: &mut HttpRequest, name: &str, value: &str) {
    req.headers.insert(name.into(), value.into());
}

fn unset(req: &mut HttpRequest, name: &str) {
    req.headers.remove(name);
}

/// Rewrites the header `name` with `change`.
fn edit(req: &mut HttpRequest, name: &str, change: impl FnOnce(&str) -> String) {
    let value = change(&req.headers[name]);
    set(req, name, &value);
}

/// `body`, a JSON object, with a `pad` field that makes it `len` bytes.
fn padded(body: &[u8], len: usize) -> Vec<u8> {
    let mut body = body.to_vec();
    body.truncate(body.len() - 1);
    let pad = len - body.len() - r#","pad":""}"#.len();
    body.extend_from_slice(format!(r#","pad":"{}"}}"#, "x".repeat(pad)).as_bytes());
    body
}

struct Row {
    what: &'static str,
    sample: &'static str,
    mutate: fn(&mut HttpRequest),
    status: u16,
    code: &'static str,
}

const fn row(
    what: &'static str,
    sample: &'static str,
    mutate: fn(&mut HttpRequest),
    status: u16,
    code: &'static str,
) -> Row {
    Row {
        what,
        sample,
        mutate,
        status,
        code,
    }
}

const UNAUTHORISED: u16 = 401;

fn rows() -> Vec<Row> {
    vec![
        // ------------------------------------------------ method and route
        row(
            "GET",
            "github",
            |r| r.method = "GET".into(),
            405,
            "method_not_allowed",
        ),
        row(
            "PUT",
            "github",
            |r| r.method = "PUT".into(),
            405,
            "method_not_allowed",
        ),
        row(
            "DELETE",
            "stripe",
            |r| r.method = "DELETE".into(),
            405,
            "method_not_allowed",
        ),
        row(
            "HEAD",
            "slack",
            |r| r.method = "HEAD".into(),
            405,
            "method_not_allowed",
        ),
        row(
            "lower-case post",
            "zendesk",
            |r| r.method = "post".into(),
            405,
            "method_not_allowed",
        ),
        row(
            "GET to an unknown workflow: the method is checked first",
            "github",
            |r| {
                r.method = "GET".into();
                r.path_params.insert("workflow".into(), "nope".into());
            },
            405,
            "method_not_allowed",
        ),
        row(
            "unknown workflow",
            "github",
            |r| {
                r.path_params
                    .insert("workflow".into(), "no-such-workflow".into());
            },
            404,
            "unknown_workflow",
        ),
        row(
            "empty workflow name",
            "github",
            |r| {
                r.path_params.insert("workflow".into(), String::new());
            },
            404,
            "unknown_workflow",
        ),
        row(
            "no workflow path parameter",
            "github",
            |r| r.path_params.clear(),
            404,
            "unknown_workflow",
        ),
        row(
            "workflow name in another case",
            "github",
            |r| {
                r.path_params
                    .insert("workflow".into(), "Scheme-GitHub".into());
            },
            404,
            "unknown_workflow",
        ),
        row(
            "path traversal in the workflow name",
            "github",
            |r| {
                r.path_params
                    .insert("workflow".into(), "../scheme-github".into());
            },
            404,
            "unknown_workflow",
        ),
        // ------------------------------------------------------------ size
        row(
            "256 KiB + 1 byte, correctly signed",
            "generic-hex",
            |r| {
                let body = padded(&r.body, MAX_BODY_BYTES + 1);
                assert_eq!(body.len(), MAX_BODY_BYTES + 1);
                signed_body(r, &body);
            },
            413,
            "payload_too_large",
        ),
        row(
            "1 MiB, unsigned: refused before any HMAC is computed",
            "github",
            |r| {
                r.body = vec![b' '; 1 << 20];
                unset(r, "x-hub-signature-256");
            },
            413,
            "payload_too_large",
        ),
        // ---------------------------------------------------- content type
        row(
            "no content type",
            "github",
            |r| unset(r, "content-type"),
            415,
            "unsupported_media_type",
        ),
        row(
            "empty content type",
            "github",
            |r| set(r, "content-type", ""),
            415,
            "unsupported_media_type",
        ),
        row(
            "text/plain",
            "shopify",
            |r| set(r, "content-type", "text/plain"),
            415,
            "unsupported_media_type",
        ),
        row(
            "multipart/form-data",
            "slack-command",
            |r| set(r, "content-type", "multipart/form-data; boundary=x"),
            415,
            "unsupported_media_type",
        ),
        row(
            "application/xml",
            "zendesk",
            |r| set(r, "content-type", "application/xml"),
            415,
            "unsupported_media_type",
        ),
        row(
            "a look-alike of application/json",
            "github",
            |r| set(r, "content-type", "application/jsonp"),
            415,
            "unsupported_media_type",
        ),
        // ------------------------------------------------------- signature
        row(
            "github: no signature header",
            "github",
            |r| unset(r, "x-hub-signature-256"),
            UNAUTHORISED,
            "missing_signature",
        ),
        row(
            "github: empty signature",
            "github",
            |r| set(r, "x-hub-signature-256", ""),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "github: the SHA-1 header's prefix",
            "github",
            |r| edit(r, "x-hub-signature-256", |v| v.replace("sha256=", "sha1=")),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "github: digest without its prefix",
            "github",
            |r| edit(r, "x-hub-signature-256", |v| v.replace("sha256=", "")),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "github: not hex",
            "github",
            |r| {
                set(
                    r,
                    "x-hub-signature-256",
                    &format!("sha256={}", "zz".repeat(32)),
                )
            },
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "github: odd-length hex",
            "github",
            |r| edit(r, "x-hub-signature-256", |v| v[..v.len() - 1].into()),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "github: truncated to half the digest",
            "github",
            |r| edit(r, "x-hub-signature-256", |v| v[..7 + 32].into()),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "github: garbled",
            "github",
            |r| set(r, "x-hub-signature-256", "sha256=; DROP TABLE runs; --"),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "github: the body changed after signing",
            "github",
            |r| {
                r.body = String::from_utf8_lossy(&r.body)
                    .replace("octocat", "octodog")
                    .into_bytes()
            },
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "stripe: no Stripe-Signature",
            "stripe",
            |r| unset(r, "stripe-signature"),
            UNAUTHORISED,
            "missing_signature",
        ),
        row(
            "stripe: no v1",
            "stripe",
            |r| set(r, "stripe-signature", &format!("t={AT}")),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "stripe: signed 301 s ago",
            "stripe",
            |r| sign_at(r, AT - 301),
            UNAUTHORISED,
            "stale_timestamp",
        ),
        row(
            "stripe: signed 301 s in the future",
            "stripe",
            |r| sign_at(r, AT + 301),
            UNAUTHORISED,
            "stale_timestamp",
        ),
        row(
            "stripe: t= is not a number",
            "stripe",
            |r| {
                edit(r, "stripe-signature", |v| {
                    v.replace(&format!("t={AT}"), "t=soon")
                })
            },
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "stripe: a replay with t= moved to now",
            "stripe",
            |r| {
                edit(r, "stripe-signature", |v| {
                    v.replace(&format!("t={AT}"), &format!("t={}", AT + 1))
                })
            },
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "slack: no timestamp header",
            "slack",
            |r| unset(r, "x-slack-request-timestamp"),
            UNAUTHORISED,
            "missing_signature",
        ),
        row(
            "slack: signed 10 minutes ago",
            "slack",
            |r| sign_at(r, AT - 600),
            UNAUTHORISED,
            "stale_timestamp",
        ),
        row(
            "slack: signed 10 minutes ahead",
            "slack",
            |r| sign_at(r, AT + 600),
            UNAUTHORISED,
            "stale_timestamp",
        ),
        row(
            "slack: timestamp is not a number",
            "slack",
            |r| set(r, "x-slack-request-timestamp", "15 Jan 2026"),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "slack: v1= instead of v0=",
            "slack-command",
            |r| edit(r, "x-slack-signature", |v| v.replace("v0=", "v1=")),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "shopify: not base64",
            "shopify",
            |r| set(r, "x-shopify-hmac-sha256", "not base64!"),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "shopify: hex where base64 is expected",
            "shopify",
            |r| {
                set(
                    r,
                    "x-shopify-hmac-sha256",
                    &hmac_hex(TEST_SECRET, &r.body.clone()),
                )
            },
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "shopify: empty digest",
            "shopify",
            |r| set(r, "x-shopify-hmac-sha256", ""),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "zendesk: no timestamp header",
            "zendesk",
            |r| unset(r, "x-zendesk-webhook-signature-timestamp"),
            UNAUTHORISED,
            "missing_signature",
        ),
        row(
            "zendesk: timestamp not RFC 3339",
            "zendesk",
            |r| set(r, "x-zendesk-webhook-signature-timestamp", "1768469400"),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "zendesk: signed an hour ago",
            "zendesk",
            |r| sign_at(r, AT - 3600),
            UNAUTHORISED,
            "stale_timestamp",
        ),
        row(
            "hubspot: timestamp in seconds, not milliseconds",
            "hubspot",
            |r| set(r, "x-hubspot-request-timestamp", &AT.to_string()),
            UNAUTHORISED,
            "stale_timestamp",
        ),
        row(
            "hubspot: signed 6 minutes ago",
            "hubspot",
            |r| sign_at(r, AT - 360),
            UNAUTHORISED,
            "stale_timestamp",
        ),
        row(
            "hubspot: signed for another host",
            "hubspot",
            |r| set(r, "host", "attacker.example"),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "generic hex: wrong prefix",
            "generic-hex",
            |r| edit(r, "x-signature", |v| v.replace("sha256=", "sha512=")),
            UNAUTHORISED,
            "bad_signature",
        ),
        row(
            "generic base64: no signature header",
            "generic-base64",
            |r| unset(r, "x-webhook-signature"),
            UNAUTHORISED,
            "missing_signature",
        ),
        row(
            "generic base64: the signature of another delivery",
            "generic-base64",
            |r| {
                let other = sample_request("webhook-scheme-generic-hex.json");
                set(r, "x-webhook-signature", &b64_hmac(&other.body))
            },
            UNAUTHORISED,
            "bad_signature",
        ),
        // ------------------------------------------------------------ body
        row(
            "malformed JSON",
            "generic-hex",
            |r| signed_body(r, b"{\"body\": nope}"),
            400,
            "malformed_body",
        ),
        row(
            "truncated JSON",
            "github",
            |r| {
                let body = r.body[..r.body.len() / 2].to_vec();
                signed_body(r, &body)
            },
            400,
            "malformed_body",
        ),
        row(
            "empty body",
            "generic-hex",
            |r| signed_body(r, b""),
            400,
            "malformed_body",
        ),
        row(
            "JSON with trailing bytes",
            "generic-hex",
            |r| signed_body(r, b"{\"body\":\"x\"} {}"),
            400,
            "malformed_body",
        ),
        row(
            "JSON, not UTF-8",
            "generic-hex",
            |r| signed_body(r, b"{\"body\":\"\xff\xfe\"}"),
            400,
            "malformed_body",
        ),
        row(
            "form body, not UTF-8",
            "slack-command",
            |r| signed_body(r, b"text=caf\xe9"),
            400,
            "malformed_body",
        ),
        row(
            "form body, percent-encoding of invalid UTF-8",
            "slack-command",
            |r| signed_body(r, b"text=%ff%fe"),
            400,
            "malformed_body",
        ),
        row(
            "Slack interactivity payload that is not JSON",
            "slack-command",
            |r| signed_body(r, b"payload=%7Bnot+json"),
            400,
            "malformed_body",
        ),
        // ---------------------------------------------------------- mapping
        row(
            "required field missing",
            "generic-hex",
            |r| signed_body(r, br#"{"from":"ar@globex.example","subject":"hi"}"#),
            422,
            "missing_field",
        ),
        row(
            "required field is an empty string",
            "generic-hex",
            |r| signed_body(r, br#"{"from":"ar@globex.example","body":""}"#),
            422,
            "missing_field",
        ),
        row(
            "required field is null",
            "generic-hex",
            |r| signed_body(r, br#"{"body":null}"#),
            422,
            "missing_field",
        ),
        row(
            "JSON array where an object is expected",
            "generic-hex",
            |r| signed_body(r, br#"[{"body":"Invoice INV-88"}]"#),
            422,
            "missing_field",
        ),
        row(
            "JSON string body",
            "github",
            |r| signed_body(r, br#""opened""#),
            422,
            "missing_field",
        ),
        row(
            "JSON null body",
            "stripe",
            |r| signed_body(r, b"null"),
            422,
            "missing_field",
        ),
        row(
            "slash command without text",
            "slack-command",
            |r| signed_body(r, b"command=%2Ftriage&user_name=dana"),
            422,
            "missing_field",
        ),
        row(
            "HubSpot batch that is an object, not a list",
            "hubspot",
            |r| signed_body(r, br#"{"eventId":1,"propertyValue":"hello"}"#),
            422,
            "missing_field",
        ),
    ]
}

async fn run_row(row: &Row) {
    let h = scheme_harness();
    let mut req = scheme_request(row.sample);
    (row.mutate)(&mut req);
    let response = h.ingest().handle(&req).await;
    let what = format!("{} ({})", row.what, row.sample);
    let body = response
        .body_json()
        .unwrap_or_else(|| panic!("{what}: not JSON"));
    assert_eq!(response.status, row.status, "{what}: {body}");
    assert_eq!(body["error"], row.code, "{what}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: no message");
    for (name, value) in &req.headers {
        if name.contains("signature") && value.len() > 8 {
            assert!(!message.contains(value.as_str()), "{what}: echoes {name}");
        }
    }
    assert_untouched(&h, &what);
}

#[tokio::test]
async fn every_bad_request_is_refused_with_its_status_and_code_and_stores_nothing() {
    let rows = rows();
    assert!(rows.len() >= 40, "{} rows", rows.len());
    for row in &rows {
        run_row(row).await;
    }
}

#[tokio::test]
async fn the_catalogue_covers_every_refusal_status() {
    let statuses: std::collections::BTreeSet<u16> = rows().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        [400, 401, 404, 405, 413, 415, 422]
    );
}

#[tokio::test]
async fn the_unchanged_samples_are_accepted() {
    // The control for the catalogue: without its one fault, each row's
    // sample gets in.
    let mut samples: Vec<&str> = rows().iter().map(|r| r.sample).collect();
    samples.dedup();
    for sample in samples {
        let h = scheme_harness();
        let response = h.ingest().handle(&scheme_request(sample)).await;
        assert_eq!(response.status, 202, "{sample}: {:?}", response.body_json());
    }
}

#[tokio::test]
async fn a_body_of_exactly_256_kib_is_not_too_large() {
    let h = scheme_harness();
    let mut req = scheme_request("generic-hex");
    let body = padded(&req.body, MAX_BODY_BYTES);
    signed_body(&mut req, &body);
    assert_eq!(req.body.len(), MAX_BODY_BYTES);
    let response = h.ingest().handle(&req).await;
    assert_eq!(response.status, 202, "{:?}", response.body_json());
}

#[tokio::test]
async fn a_duplicate_answers_200_with_the_first_run_and_changes_nothing() {
    for (sample, change) in [
        ("github", None),
        ("stripe", None),
        // The same delivery id with another body is still the same delivery.
        (
            "generic-hex",
            Some(&br#"{"from":"ar@globex.example","body":"resent"}"#[..]),
        ),
    ] {
        let h = scheme_harness();
        let first = h.ingest().handle(&scheme_request(sample)).await;
        assert_eq!(first.status, 202);
        let before = (h.store.counts(), h.queue.messages.lock().unwrap().len());
        let mut again = scheme_request(sample);
        if let Some(body) = change {
            signed_body(&mut again, body);
        }
        let response = h.ingest().handle(&again).await;
        let body = response.body_json().unwrap();
        assert_eq!(response.status, 200, "{sample}: {body}");
        assert_eq!(body["duplicate"], true);
        assert_eq!(body["run_id"], first.body_json().unwrap()["run_id"]);
        let after = (h.store.counts(), h.queue.messages.lock().unwrap().len());
        assert_eq!(
            before, after,
            "{sample}: a duplicate changed the store or queue"
        );
    }
}

#[tokio::test]
async fn a_missing_field_answer_names_the_field() {
    let h = scheme_harness();
    let mut req = scheme_request("generic-hex");
    signed_body(&mut req, br#"{"from":"ar@globex.example"}"#);
    let response = h.ingest().handle(&req).await;
    assert_eq!(response.status, 422);
    let body = response.body_json().unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("`text`"),
        "{body}"
    );
    assert_untouched(&h, "missing field");
}

#[tokio::test]
async fn an_unreadable_secret_is_a_503_and_stores_nothing() {
    let h = scheme_harness();
    h.secrets
        .values
        .lock()
        .unwrap()
        .remove("scheme-github/webhook");
    let response = h.ingest().handle(&scheme_request("github")).await;
    assert_eq!(response.status, 503);
    assert_eq!(response.body_json().unwrap()["error"], "secret_unavailable");
    assert_untouched(&h, "no secret");
}

#[tokio::test]
async fn a_blank_delivery_header_does_not_merge_two_deliveries() {
    // Found while building this catalogue: a blank X-Delivery-Id was taken
    // as the id "", so every later delivery with a blank header was answered
    // as a duplicate of the first and silently dropped.
    let h = scheme_harness();
    let mut ids = std::collections::BTreeSet::new();
    for text in ["first invoice", "second invoice"] {
        let mut req = scheme_request("generic-hex");
        set(&mut req, "x-delivery-id", "");
        let body = format!(r#"{{"from":"ar@globex.example","body":"{text}"}}"#);
        signed_body(&mut req, body.as_bytes());
        let response = h.ingest().handle(&req).await;
        assert_eq!(response.status, 202, "{text}: {:?}", response.body_json());
        ids.insert(response.body_json().unwrap()["run_id"].to_string());
    }
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn a_delivery_id_longer_than_a_key_allows_is_hashed_not_refused() {
    let h = scheme_harness();
    let mut req = scheme_request("generic-hex");
    set(&mut req, "x-delivery-id", &"d".repeat(4096));
    sign_at(&mut req, AT);
    let response = h.ingest().handle(&req).await;
    assert_eq!(response.status, 202, "{:?}", response.body_json());
    let id = read_back::accepted_run_id(&response);
    let run = handoff_core::ports::Runs::get_run(h.store.as_ref(), &id)
        .await
        .unwrap()
        .unwrap();
    assert!(run.delivery_id.len() <= handoff_core::trigger::MAX_DELIVERY_ID_BYTES);
    assert!(run.delivery_id.starts_with("sha256:"));
}
