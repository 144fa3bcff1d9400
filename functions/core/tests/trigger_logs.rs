//! What the front door logs: never the body, a signature or the secret,
//! whether the webhook is accepted or refused.

mod trigger_support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use handoff_core::http::HttpRequest;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use trigger_support::*;

/// Every span field, event field and message, as text: what any formatter
/// (the JSON one in Lambda included) could print.
#[derive(Clone, Default)]
struct Capture {
    text: Arc<Mutex<String>>,
    ids: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = self.text.lock().unwrap();
        let _ = write!(text, "\nspan {}:", span.metadata().name());
        span.record(&mut Fields(&mut text));
        Id::from_u64(self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut self.text.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = self.text.lock().unwrap();
        let _ = write!(text, "\n{}:", event.metadata().level());
        event.record(&mut Fields(&mut text));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn secrets_of(req: &HttpRequest) -> Vec<String> {
    let mut out = vec![TEST_SECRET.to_string()];
    out.extend(
        req.headers
            .iter()
            .filter(|(name, _)| name.contains("signature") || name.contains("hmac"))
            .map(|(_, value)| value.clone()),
    );
    out
}

#[tokio::test]
async fn no_body_signature_or_secret_reaches_the_logs() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let h = scheme_harness();

    let mut requests: Vec<(&str, HttpRequest)> = Vec::new();
    for (scheme, ..) in SCHEMES {
        requests.push(("accepted", scheme_request(scheme)));
        requests.push(("duplicate", scheme_request(scheme)));
        let mut tampered = scheme_request(scheme);
        tampered.body.push(b' ');
        requests.push(("bad signature", tampered));
    }
    let mut stale = scheme_request("slack");
    stale.headers.insert(
        "x-slack-request-timestamp".into(),
        (1_768_469_400 - 3600).to_string(),
    );
    requests.push(("stale", stale));
    let mut wrong_type = scheme_request("zendesk");
    wrong_type
        .headers
        .insert("content-type".into(), "text/plain".into());
    requests.push(("415", wrong_type));
    let mut unknown = scheme_request("github");
    unknown.path_params.insert("workflow".into(), "nope".into());
    requests.push(("404", unknown));

    let mut statuses = Vec::new();
    for (what, req) in &requests {
        let response = h.ingest().handle(req).await;
        statuses.push((*what, response.status));
    }
    assert!(statuses.contains(&("accepted", 202)), "{statuses:?}");
    assert!(statuses.contains(&("duplicate", 200)), "{statuses:?}");
    assert!(statuses.contains(&("bad signature", 401)), "{statuses:?}");

    let logs = capture.text.lock().unwrap().clone();
    assert!(logs.contains("run accepted"), "{logs}");
    assert!(logs.contains("webhook refused"), "{logs}");
    assert!(
        logs.contains("bad_signature"),
        "the refusal names its code: {logs}"
    );
    for (what, req) in &requests {
        let body = String::from_utf8_lossy(&req.body);
        assert!(!logs.contains(body.trim()), "{what}: body logged");
        // Any distinctive run of the body, e.g. a customer's words.
        for window in body.as_bytes().chunks(24).filter(|c| c.len() == 24) {
            let piece = String::from_utf8_lossy(window);
            assert!(
                !logs.contains(piece.as_ref()),
                "{what}: part of the body logged: {piece}"
            );
        }
        for secret in secrets_of(req) {
            assert!(
                !logs.contains(&secret),
                "{what}: secret or signature logged"
            );
        }
    }
}
