//! The trigger tests' bed: the shared harness with one workflow per
//! signature scheme (`scheme-<name>`, as events/webhook-scheme-*.json post
//! to), each secret set to the documented test secret.
#![allow(dead_code, unused_imports)]

use std::sync::Arc;

use handoff_core::http::HttpRequest;
use handoff_core::ports::Secret;
pub use handoff_core::testing::*;
use handoff_spec::{Catalog, Workflow};

/// scheme sample → (signature YAML, fields YAML, delivery id YAML).
pub const SCHEMES: &[(&str, &str, &str, &str)] = &[
    (
        "github",
        "scheme: github",
        "text: $.issue.body\n    sender: $.sender.login\n    subject: $.issue.title",
        "",
    ),
    (
        "stripe",
        "scheme: stripe",
        "text: $.data.object.reason\n    sender: $.data.object.charge",
        "",
    ),
    (
        "slack",
        "scheme: slack",
        "text: $.event.text\n    sender: $.event.user",
        "",
    ),
    (
        "slack-command",
        "scheme: slack",
        "text: $.text\n    sender: $.user_name\n    command: $.command",
        "",
    ),
    (
        "shopify",
        "scheme: shopify",
        "text: $.note\n    sender: $.email\n    total: $.total_price",
        "",
    ),
    (
        "zendesk",
        "scheme: zendesk",
        "text: $.ticket.description\n    sender: $.ticket.requester.email",
        "",
    ),
    (
        "hubspot",
        "scheme: hubspot",
        "text: $[0].propertyValue\n    sender: $[0].objectId",
        "",
    ),
    (
        "generic-hex",
        "scheme: generic\n    header: X-Signature\n    prefix: \"sha256=\"\n    encoding: hex",
        "text: $.body\n    sender: $.from",
        "delivery_id:\n    header: X-Delivery-Id",
    ),
    (
        "generic-base64",
        "scheme: generic\n    header: X-Webhook-Signature\n    encoding: base64",
        "text: $.body\n    sender: $.from",
        "delivery_id:\n    header: X-Delivery-Id",
    ),
];

/// A whole valid workflow around a trigger section; `text` is required.
pub fn scheme_workflow(scheme: &str, signature: &str, fields: &str, delivery: &str) -> Workflow {
    let name = format!("scheme-{scheme}");
    let yaml = format!(
        "name: {name}
version: 1
trigger:
  signature:
    {signature}
    secret: {name}/webhook
  {delivery}
  fields:
    {fields}
  required: [text]
reason:
  - name: topic
    kind: classify
    labels:
      - name: question
        description: Anything asked.
        examples: [How do I reset my password?]
      - name: other
        description: Everything else.
        examples: [Thanks, all good now]
rules:
  - name: all
    when: \"true\"
    route: inbox
    priority: normal
approval:
  reviewers: [lead@support.example.com]
  timeout_seconds: 3600
  on_timeout: reject
"
    );
    Workflow::from_yaml(&format!("{name}.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("test workflow {name}: {e}\n{yaml}"))
}

/// The harness with a `scheme-<name>` workflow per entry of [`SCHEMES`].
pub fn scheme_harness() -> Harness {
    let mut h = Harness::new();
    let mut catalog: Catalog = (*h.catalog).clone();
    for (scheme, signature, fields, delivery) in SCHEMES {
        catalog.insert(scheme_workflow(scheme, signature, fields, delivery));
        h.secrets
            .values
            .lock()
            .unwrap()
            .insert(format!("scheme-{scheme}/webhook"), Secret::new(TEST_SECRET));
    }
    h.catalog = Arc::new(catalog);
    h
}

/// The scheme sample events/webhook-scheme-<scheme>.json as a request.
pub fn scheme_request(scheme: &str) -> HttpRequest {
    sample_request(&format!("webhook-scheme-{scheme}.json"))
}

/// Nothing stored, nothing queued.
pub fn assert_untouched(h: &Harness, context: &str) {
    assert_eq!(h.store.counts(), (0, 0, 0), "{context}: store changed");
    assert!(
        h.queue.messages.lock().unwrap().is_empty(),
        "{context}: queue changed"
    );
}
