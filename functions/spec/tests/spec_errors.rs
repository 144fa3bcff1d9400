//! Each kind of spec mistake is reported with the file, the YAML path and a
//! reason a workflow author can act on.

use handoff_spec::{DocumentView, SpecError, Workflow};

const FILE: &str = "workflows/demo.yaml";

const VALID: &str = r#"
name: demo
version: 1
trigger:
  signature: { scheme: github, secret: demo/webhook }
  fields: { text: $.body, sender: $.user.email }
  required: [text]
reason:
  - name: intent
    kind: classify
    labels:
      - { name: refund, description: Money back, examples: [please refund me] }
      - { name: other, description: Anything else, examples: [hello there] }
rules:
  - { name: refunds, when: 'ai.intent.label == "refund"', route: billing, actions: [notify], approval: true }
  - { name: rest, when: "true", route: general }
approval: { reviewers: [a@example.com], timeout_seconds: 60, on_timeout: reject }
actions:
  - { name: notify, type: webhook, url: "https://hooks.example.com/x", secret: demo/notify, body: "{{ ai.intent.label }}" }
"#;

fn errors_of(yaml: &str) -> Vec<SpecError> {
    match Workflow::from_yaml(FILE, yaml) {
        Ok(_) => panic!("expected the spec to be rejected"),
        Err(e) => e.0,
    }
}

fn assert_reported(yaml: &str, path: &str, reason_part: &str) {
    let errors = errors_of(yaml);
    let hit = errors
        .iter()
        .find(|e| e.path == path && e.reason.contains(reason_part));
    assert!(
        hit.is_some(),
        "no error at `{path}` containing `{reason_part}`; got {errors:#?}"
    );
    let shown = hit.unwrap().to_string();
    assert!(
        shown.starts_with(FILE),
        "message must name the file: {shown}"
    );
    assert!(shown.contains(path), "message must name the path: {shown}");
}

#[test]
fn the_valid_spec_loads() {
    let w = Workflow::from_yaml(FILE, VALID).expect("valid");
    assert_eq!(w.rules.len(), 2);
}

/// A spec mistake made by one edit: (what it shows, from, to, the error's
/// path, part of its reason).
type Mistake = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Makes each mistake in `base` and checks the error of the spec that
/// `spec_with` builds around the edited text.
fn assert_each_reported(base: &str, mistakes: &[Mistake], spec_with: impl Fn(&str) -> String) {
    for (what, from, to, path, reason) in mistakes {
        let edited = base.replace(from, to);
        assert_ne!(edited, base, "{what}: `{from}` is not there to edit");
        assert_reported(&spec_with(&edited), path, reason);
    }
}

/// Edits of `VALID`.
const ONE_EDIT_MISTAKES: &[Mistake] = &[
    (
        "bad CEL names the rule",
        r#"when: 'ai.intent.label == "refund"'"#,
        r#"when: 'ai.intent.label == == "refund"'"#,
        "rules[0].when",
        "invalid CEL",
    ),
    (
        "an unknown variable in a rule is a typo",
        r#"when: 'ai.intent.label == "refund"'"#,
        r#"when: 'aii.label == "refund"'"#,
        "rules[0].when",
        "unknown variable `aii`",
    ),
    (
        "an unknown label in a rule",
        r#"ai.intent.label == "refund""#,
        r#"ai.intent.label == "refunds""#,
        "rules[0].when",
        "unknown label `refunds`",
    ),
    (
        "an unknown label in an `in` list",
        r#"ai.intent.label == "refund""#,
        r#"ai.intent.label in ["refund", "chargeback"]"#,
        "rules[0].when",
        "unknown label `chargeback`",
    ),
    (
        "a rule reading the old single result is told the new path",
        r#"ai.intent.label == "refund""#,
        r#"ai.label == "refund""#,
        "rules[0].when",
        "`ai.<task>`",
    ),
    (
        "a rule naming no task is refused",
        r#"ai.intent.label == "refund""#,
        r#"ai.urgency.label == "high""#,
        "rules[0].when",
        "`ai.urgency` names no AI task",
    ),
    (
        "a missing required field",
        "version: 1\n",
        "",
        "",
        "missing field `version`",
    ),
    (
        "an unknown action type",
        "type: webhook",
        "type: fax",
        "actions[0].type",
        "unknown variant `fax`",
    ),
    (
        "a rule names an unknown action",
        "actions: [notify]",
        "actions: [notify, page_oncall]",
        "rules[0].actions[1]",
        "unknown action `page_oncall`",
    ),
    (
        "a typo in a key is not ignored",
        "route: general",
        "route: general, aproval: true",
        "rules[1].aproval",
        "unknown field `aproval`",
    ),
    (
        "the name must match the file",
        "name: demo",
        "name: other-demo",
        "name",
        "must match the file name `demo`",
    ),
    (
        "an invalid JSONPath",
        "text: $.body",
        "text: '$.body[?'",
        "trigger.fields.text",
        "invalid JSONPath",
    ),
    (
        "required approvals cannot exceed the reviewers",
        "reviewers: [a@example.com]",
        "reviewers: [a@example.com], required: 2",
        "approval.required",
        "between 1 and the number of reviewers",
    ),
    (
        "an escalation needs someone to escalate to",
        "on_timeout: reject",
        "on_timeout: escalate",
        "approval.escalate_to",
        "needs reviewers",
    ),
    (
        "a URL without a scheme",
        "https://hooks.example.com/x",
        "hooks.example.com/x",
        "actions[0].url",
        "no http:// or https:// scheme",
    ),
    (
        "an action URL with a templated host is refused",
        "https://hooks.example.com/x",
        "https://{{ event.sender }}/x",
        "actions[0].url",
        "host or port is templated",
    ),
    (
        "an action URL that is all template is refused",
        "https://hooks.example.com/x",
        "{{ event.sender }}",
        "actions[0].url",
        "http:// or https://",
    ),
    (
        "a template that does not parse",
        "{{ ai.intent.label }}",
        "{{ ai.intent.label ",
        "actions[0].body",
        "invalid template",
    ),
    (
        "an action template naming an unmapped field",
        "{{ ai.intent.label }}",
        "{{ event.sendr }}",
        "actions[0].body",
        "does not render",
    ),
    (
        "text must be mapped",
        "text: $.body, ",
        "",
        "trigger.fields",
        "must map `text`",
    ),
    (
        "a missing secret name",
        "secret: demo/webhook",
        "secret: ' '",
        "trigger.signature.secret",
        "missing secret name",
    ),
    (
        "a trigger secret is named like a webhook secret",
        "secret: demo/webhook",
        "secret: approval-links",
        "trigger.signature.secret",
        "a trigger's secret is named `<something>/webhook`",
    ),
    (
        "a webhook without a secret name",
        "secret: demo/notify",
        r#"secret: """#,
        "actions[0].secret",
        "missing secret name",
    ),
    (
        "the old reason shape names the new one",
        "reason:\n  - name: intent\n    kind: classify\n    labels:\n      - { name: refund, description: Money back, examples: [please refund me] }\n      - { name: other, description: Anything else, examples: [hello there] }\n",
        "reason:\n  labels:\n    - { name: refund, description: Money back, examples: [please refund me] }\n    - { name: other, description: Anything else, examples: [hello there] }\n",
        "reason",
        "ordered list of AI tasks",
    ),
    (
        "a condition reads only earlier tasks",
        "  - name: intent\n    kind: classify\n",
        "  - { name: gist, kind: summarize, when: 'ai.intent.label == \"refund\"' }\n  - name: intent\n    kind: classify\n",
        "reason[0].when",
        "runs after this task",
    ),
];

#[test]
fn each_one_edit_mistake_is_reported_at_its_path() {
    assert_each_reported(VALID, ONE_EDIT_MISTAKES, str::to_owned);
}

#[test]
fn a_slack_action_names_the_secret_holding_its_url() {
    let yaml = VALID.replace(
        r#"type: webhook, url: "https://hooks.example.com/x", secret: demo/notify, body:"#,
        r#"type: slack, url: "https://hooks.slack.com/services/T/B/x", text:"#,
    );
    assert_reported(
        &yaml,
        "actions[0]",
        "store it as a secret and name that secret in `webhook_secret:`",
    );
    let ok = VALID.replace(
        r#"type: webhook, url: "https://hooks.example.com/x", secret: demo/notify, body:"#,
        r#"type: slack, webhook_secret: demo/slack, text:"#,
    );
    Workflow::from_yaml(FILE, &ok).expect("a slack action with webhook_secret");
}

#[test]
fn every_problem_is_reported_at_once() {
    let broken = VALID
        .replace(
            r#"ai.intent.label == "refund""#,
            r#"ai.intent.label == "nope""#,
        )
        .replace("reviewers: [a@example.com]", "reviewers: []");
    let paths: Vec<String> = errors_of(&broken).into_iter().map(|e| e.path).collect();
    assert!(paths.contains(&"rules[0].when".to_string()), "{paths:?}");
    assert!(
        paths.contains(&"approval.reviewers".to_string()),
        "{paths:?}"
    );
}

const APPROVAL: &str =
    "approval: { reviewers: [a@example.com], timeout_seconds: 60, on_timeout: reject }";

fn with_notify(channels: &str) -> String {
    VALID.replace(
        APPROVAL,
        &format!(
            "approval: {{ reviewers: [a@example.com], timeout_seconds: 60, on_timeout: reject, notify: {channels} }}"
        ),
    )
}

#[test]
fn notify_channels_load_in_order() {
    let yaml = with_notify(
        "[email, {slack: {webhook_secret: demo/slack}}, {webhook: {url: 'https://hooks.example.com/approvals', secret: demo/notify}}]",
    );
    let w = Workflow::from_yaml(FILE, &yaml).expect("valid");
    let kinds: Vec<&str> = w
        .spec
        .approval
        .unwrap()
        .notify
        .iter()
        .map(|c| c.kind())
        .collect();
    assert_eq!(kinds, ["email", "slack", "webhook"]);
}

#[test]
fn notify_channel_mistakes_name_the_channel() {
    assert_reported(
        &with_notify("[{slack: {webhook_secret: ' '}}]"),
        "approval.notify[0].slack.webhook_secret",
        "missing secret name",
    );
    assert_reported(
        &with_notify("[email, {webhook: {url: 'hooks.example.com/x', secret: demo/notify}}]"),
        "approval.notify[1].webhook.url",
        "not an absolute http(s) URL",
    );
    assert_reported(
        &with_notify("[email, email]"),
        "approval.notify[1]",
        "listed twice",
    );
}

#[test]
fn unknown_notify_channel_or_key_is_an_error() {
    assert_reported(
        &with_notify("[email, pager]"),
        "approval.notify[1]",
        "unknown channel `pager`",
    );
    assert_reported(
        &with_notify("[{slack: {webhook_secret: x, channel: y}}]"),
        "approval.notify[0]",
        "unknown field `channel`",
    );
    assert_reported(
        &with_notify("[{webhook: {url: 'https://h.example.com/x'}}]"),
        "approval.notify[0]",
        "missing field `secret`",
    );
}

#[test]
fn notify_channels_serialise_as_written() {
    let yaml = with_notify(
        "[email, {slack: {webhook_secret: demo/slack}}, {webhook: {url: 'https://h.example.com/x', secret: demo/notify}}]",
    );
    let w = Workflow::from_yaml(FILE, &yaml).expect("valid");
    let json = serde_json::to_value(&w.spec.approval.unwrap().notify).unwrap();
    assert_eq!(
        json,
        serde_json::json!(["email", {"slack": {"webhook_secret": "demo/slack"}}, {"webhook": {"url": "https://h.example.com/x", "secret": "demo/notify"}}])
    );
}

#[test]
fn a_reminder_must_come_before_the_timeout() {
    let yaml = VALID.replace(
        APPROVAL,
        "approval: { reviewers: [a@example.com], timeout_seconds: 60, on_timeout: reject, remind_before_seconds: 60 }",
    );
    assert_reported(
        &yaml,
        "approval.remind_before_seconds",
        "between 1 and the timeout",
    );
    let ok = yaml.replace("remind_before_seconds: 60", "remind_before_seconds: 30");
    let w = Workflow::from_yaml(FILE, &ok).expect("valid");
    assert_eq!(w.spec.approval.unwrap().remind_before_seconds, Some(30));
}

/// `VALID` with an HTTP lookup of a CRM, for the context checks below.
fn with_crm_lookup(lookup: &str) -> String {
    VALID.replace(
        "reason:\n",
        &format!("context:\n  lookups:\n    - {lookup}\nreason:\n"),
    )
}

const CRM: &str = r#"{ name: crm, kind: http, url: "https://crm.example.com/people?email={{ event.sender | urlencode }}", auth: { secret: demo/crm, prefix: "Bearer " }, timeout_ms: 500, on_failure: fail, max_bytes: 2048, fields: { plan: $.data.plan } }"#;

#[test]
fn an_http_lookup_loads_with_its_policy_and_budget() {
    let w = Workflow::from_yaml(FILE, &with_crm_lookup(CRM)).expect("valid");
    let handoff_spec::LookupSpec::Http(h) = &w.spec.context.lookups[0] else {
        panic!("not an http lookup")
    };
    assert_eq!(h.on_failure, handoff_spec::OnFailure::Fail);
    assert_eq!(h.timeout_ms, 500);
    assert_eq!(h.max_bytes, Some(2048));
    assert_eq!(h.auth.as_ref().unwrap().header, "Authorization");
}

/// Edits of the lookup `CRM`.
const LOOKUP_MISTAKES: &[Mistake] = &[
    (
        "a lookup URL without a scheme",
        "https://crm.example.com",
        "crm.example.com",
        "context.lookups[0].url",
        "no http:// or https:// scheme",
    ),
    (
        "a lookup URL with a templated port is refused",
        "https://crm.example.com/",
        "https://crm.example.com:{{ event.sender }}/",
        "context.lookups[0].url",
        "host or port is templated",
    ),
    (
        "a lookup URL naming an unmapped field",
        "event.sender",
        "event.customer_id",
        "context.lookups[0].url",
        "does not render",
    ),
    (
        "lookup auth without a secret name",
        "secret: demo/crm",
        "secret: ''",
        "context.lookups[0].auth.secret",
        "missing secret name",
    ),
    (
        "a lookup field with an invalid JSONPath",
        "$.data.plan",
        "'$.data[?'",
        "context.lookups[0].fields.plan",
        "invalid JSONPath",
    ),
    (
        "an unknown lookup kind",
        "kind: http",
        "kind: ftp",
        "context.lookups[0].kind",
        "unknown variant `ftp`",
    ),
];

#[test]
fn each_lookup_mistake_is_reported_at_its_path() {
    assert_each_reported(CRM, LOOKUP_MISTAKES, with_crm_lookup);
}

#[test]
fn action_template_naming_an_undeclared_lookup_field() {
    let ok = with_crm_lookup(CRM).replace("{{ ai.intent.label }}", "{{ context.crm.plan }}");
    Workflow::from_yaml(FILE, &ok).expect("a mapped lookup field renders");
    let yaml = ok.replace("context.crm.plan", "context.crm.tier");
    assert_reported(&yaml, "actions[0].body", "does not render");
}

#[test]
fn dry_run_is_part_of_the_spec() {
    let w = Workflow::from_yaml(
        FILE,
        &VALID.replace("version: 1\n", "version: 1\ndry_run: true\n"),
    )
    .expect("valid");
    assert!(w.spec.dry_run);
    assert!(!Workflow::from_yaml(FILE, VALID).unwrap().spec.dry_run);
}

fn with_task(task: &str) -> String {
    VALID.replace("rules:\n", &format!("{task}\nrules:\n"))
}

#[test]
fn each_task_kind_refuses_the_keys_of_another() {
    let yaml = with_task("  - { name: gist, kind: summarize, labels: [] }");
    assert_reported(
        &yaml,
        "reason[1]",
        "`labels` does not apply to a summarize task",
    );
}

#[test]
fn an_extract_task_checks_its_schema_and_required_fields() {
    let yaml = with_task(
        "  - name: facts\n    kind: extract\n    required: [total]\n    fields:\n      items: { type: array }\n      when: { type: string, format: date, minimum: 1 }",
    );
    assert_reported(
        &yaml,
        "reason[1].required[0]",
        "`total` is not one of the task's fields",
    );
    assert_reported(
        &yaml,
        "reason[1].fields.items.items",
        "an array needs `items`",
    );
    assert_reported(&yaml, "reason[1].fields.when", "apply to numbers only");
}

#[test]
fn a_draft_needs_a_template_or_a_model() {
    let yaml = with_task("  - { name: reply, kind: draft }");
    assert_reported(&yaml, "reason[1]", "needs a `template`");
    let yaml = with_task("  - { name: reply, kind: draft, models: [embedded], template: hi }");
    assert_reported(&yaml, "reason[1].models[0]", "writes no drafts");
}

#[test]
fn a_default_answer_must_meet_the_task_schema() {
    let yaml =
        with_task("  - { name: gist, kind: summarize, on_failure: { default: { words: 3 } } }");
    assert_reported(&yaml, "reason[1].on_failure.default", "does not match");
    let ok =
        with_task("  - { name: gist, kind: summarize, on_failure: { default: { text: n/a } } }");
    Workflow::from_yaml(FILE, &ok).expect("a valid default loads");
}

#[test]
fn documents_default_to_text_and_pages_need_an_llm_tier() {
    let w = Workflow::from_yaml(FILE, VALID).expect("valid");
    assert_eq!(w.spec.reason.tasks()[0].documents, DocumentView::Text);

    let pages = with_task(
        "  - { name: gist, kind: summarize, models: [embedded, fast], documents: pages }",
    );
    let w = Workflow::from_yaml(FILE, &pages).expect("an LLM tier reads pages");
    let gist = w.spec.reason.task("gist").unwrap();
    assert_eq!(gist.documents, DocumentView::Pages);
    // As written, and read back the same.
    let yaml = serde_yaml_ng::to_string(gist).unwrap();
    assert!(yaml.contains("documents: pages"), "{yaml}");
    assert!(!serde_yaml_ng::to_string(&w.spec.reason.tasks()[0])
        .unwrap()
        .contains("documents"));

    let embedded_only = with_task("  - { name: gist, kind: summarize, documents: pages }");
    assert_reported(
        &embedded_only,
        "reason[1].documents",
        "`pages` is for LLM tiers",
    );
    let unknown =
        with_task("  - { name: gist, kind: summarize, models: [fast], documents: images }");
    assert_reported(
        &unknown,
        "reason[1].documents",
        "expected `text` or `pages`",
    );
}

#[test]
fn reserved_and_duplicate_task_names_are_refused() {
    let yaml = with_task(
        "  - { name: needs_review, kind: summarize }\n  - { name: intent, kind: summarize }",
    );
    assert_reported(&yaml, "reason[1].name", "reserved");
    assert_reported(&yaml, "reason[2].name", "duplicate task `intent`");
}

#[test]
fn a_comprehension_variable_is_not_an_unknown_variable() {
    let ok = VALID.replace(
        r#"when: 'ai.intent.label == "refund"'"#,
        r#"when: 'ai.intent.label == "refund" && [1, 2].all(n, n > 0)'"#,
    );
    Workflow::from_yaml(FILE, &ok).expect("macro variables are bound");
    let bad = VALID.replace(
        r#"when: 'ai.intent.label == "refund"'"#,
        r#"when: 'ai.intent.label == "refund" && n > 0'"#,
    );
    assert_reported(&bad, "rules[0].when", "unknown variable `n`");
}

#[test]
fn a_budget_loads_and_the_answer_cache_defaults_to_a_day() {
    let w = Workflow::from_yaml(FILE, VALID).expect("valid");
    assert_eq!(w.spec.budget.run_tokens, None);
    assert_eq!(w.spec.budget.daily_tokens, None);
    assert_eq!(w.spec.budget.cache_ttl_seconds, 86_400);
    let yaml = format!(
        "{VALID}budget: {{ run_tokens: 500, daily_tokens: 20000, cache_ttl_seconds: 0 }}\n"
    );
    let w = Workflow::from_yaml(FILE, &yaml).expect("valid");
    assert_eq!(w.spec.budget.run_tokens, Some(500));
    assert_eq!(w.spec.budget.daily_tokens, Some(20_000));
    assert_eq!(w.spec.budget.cache_ttl_seconds, 0);
}

#[test]
fn a_misspelt_budget_key_is_an_error() {
    let errors = errors_of(&format!("{VALID}budget: {{ daily_token: 20000 }}\n"));
    assert!(
        errors.iter().any(|e| e.reason.contains("daily_token")),
        "{errors:#?}"
    );
}

/// `VALID` with an e-mail action to the sender, performed by `rule`.
fn with_reply_to_sender(approval: bool, outbound: &str) -> String {
    VALID
        .replace(
            "actions: [notify], approval: true",
            &format!("actions: [notify, reply], approval: {approval}"),
        )
        .replace(
            "actions:\n  - { name: notify",
            &format!("{outbound}actions:\n  - {{ name: reply, type: email, to: \"{{{{ event.sender }}}}\", subject: Hi, body: Thanks }}\n  - {{ name: notify"),
        )
}

#[test]
fn an_email_to_an_address_from_the_webhook_needs_approval_or_an_allow_list() {
    assert_reported(
        &with_reply_to_sender(false, ""),
        "actions[0].to",
        "rule `refunds` sends without approval",
    );
    Workflow::from_yaml(FILE, &with_reply_to_sender(true, "")).expect("behind approval");
    let listed = with_reply_to_sender(
        false,
        "outbound: { allowed_recipients: [example.com, ops@partner.example] }\n",
    );
    let w = Workflow::from_yaml(FILE, &listed).expect("allow-listed");
    assert!(w.spec.outbound.allows_recipient("Ana@Support.Example.com"));
    assert!(w.spec.outbound.allows_recipient("ops@partner.example"));
    assert!(!w.spec.outbound.allows_recipient("eve@partner.example"));
    assert!(!w
        .spec
        .outbound
        .allows_recipient("eve@example.com.evil.example"));
    assert!(!w
        .spec
        .outbound
        .allows_recipient("a@example.com, eve@evil.example"));
}

#[test]
fn a_notification_url_is_sent_as_written_so_a_template_is_refused() {
    assert_reported(
        &with_notify(
            "[email, {webhook: {url: 'https://{{ event.sender }}/x', secret: demo/notify}}]",
        ),
        "approval.notify[1].webhook.url",
        "no template",
    );
}

#[test]
fn a_business_key_names_mapped_fields() {
    let with = |dedupe: &str| {
        VALID.replace(
            "  required: [text]\n",
            &format!("  required: [text]\n  dedupe: {dedupe}\n"),
        )
    };
    Workflow::from_yaml(FILE, &with("{ business_key: [sender, text] }"))
        .expect("mapped fields make a business key");
    assert_reported(
        &with("{ business_key: [sender, invoice_id] }"),
        "trigger.dedupe.business_key[1]",
        "`invoice_id` is not a mapped field",
    );
    assert_reported(
        &with("{ business_key: [] }"),
        "trigger.dedupe.business_key",
        "at least one",
    );
    assert_reported(
        &with("{ business_key: [sender, sender] }"),
        "trigger.dedupe.business_key[1]",
        "named twice",
    );
}

#[test]
fn a_signed_timestamp_header_belongs_to_the_generic_scheme() {
    let github = VALID.replace(
        "{ scheme: github, secret: demo/webhook }",
        "{ scheme: github, secret: demo/webhook, timestamp_header: X-Timestamp }",
    );
    assert_reported(&github, "trigger.signature", "generic scheme only");
    let generic = VALID.replace(
        "{ scheme: github, secret: demo/webhook }",
        "{ scheme: generic, secret: demo/webhook, header: X-Sig, timestamp_header: X-Timestamp, tolerance_seconds: 60 }",
    );
    Workflow::from_yaml(FILE, &generic).expect("generic with a signed timestamp");
}

/// `VALID` whose trigger takes documents and e-mail as `intake` says.
fn with_intake(intake: &str) -> String {
    VALID.replace(
        "  required: [text]\n",
        &format!("  required: [text]\n{intake}"),
    )
}

const INTAKE: &str = "  documents:
    json: { items: '$.attachments[*]', content: content_base64, name: filename, media_type: type }
    urls:
      items: '$.links[*]'
      url: href
      allow: ['https://files.example.com/att/']
      auth: { secret: crm/documents, prefix: 'Bearer ' }
      timeout_ms: 5000
    max_count: 3
    max_bytes: 1048576
    types: [pdf, png]
  email: { authserv_id: mx.example.com }
";

#[test]
fn document_and_email_intake_load_with_their_defaults() {
    let w = Workflow::from_yaml(FILE, &with_intake(INTAKE)).expect("valid");
    let d = w.spec.trigger.documents.as_ref().unwrap();
    assert_eq!((d.max_count, d.max_bytes), (3, 1_048_576));
    assert_eq!(d.json.as_ref().unwrap().items, "$.attachments[*]");
    let urls = d.urls.as_ref().unwrap();
    assert_eq!((urls.url.as_str(), urls.timeout_ms), ("href", 5000));
    let allowed = |u: &str| urls.allows(&url::Url::parse(u).unwrap());
    assert!(allowed("https://files.example.com/att/inv.pdf"));
    assert!(allowed("https://FILES.example.com:443/att/x/../inv.pdf"));
    assert!(!allowed("https://files.example.com/att/../inv.pdf"));
    assert!(!allowed("https://files.example.com/attic/inv.pdf"));
    assert!(!allowed(
        "https://files.example.com.evil.example/att/inv.pdf"
    ));
    assert!(!allowed("https://me@files.example.com/att/inv.pdf"));
    assert!(!allowed("http://files.example.com/att/inv.pdf"));
    let email = w.spec.trigger.email.as_ref().unwrap();
    assert_eq!(email.authserv_id.as_deref(), Some("mx.example.com"));

    let w = Workflow::from_yaml(FILE, &with_intake("  documents: {}\n  email: {}\n"))
        .expect("every intake key has a default");
    let d = w.spec.trigger.documents.unwrap();
    assert_eq!((d.max_count, d.max_bytes), (10, 10 * 1024 * 1024));
    assert_eq!(d.types, ["pdf", "png", "jpeg", "tiff"]);
    assert!(d.json.is_none());
    assert!(w.spec.trigger.email.unwrap().authserv_id.is_none());
    let w = Workflow::from_yaml(FILE, VALID).unwrap();
    assert!(w.spec.trigger.documents.is_none() && w.spec.trigger.email.is_none());
}

/// Edits of `INTAKE`.
const INTAKE_MISTAKES: &[Mistake] = &[
    (
        "the items path is not a JSONPath",
        "'$.attachments[*]'",
        "'$.attachments[?'",
        "trigger.documents.json.items",
        "invalid JSONPath",
    ),
    (
        "a blank content member",
        "content: content_base64",
        "content: ' '",
        "trigger.documents.json.content",
        "name the member",
    ),
    (
        "a document type outside the four",
        "types: [pdf, png]",
        "types: [pdf, docx]",
        "trigger.documents.types[1]",
        "`docx` is not a document type",
    ),
    (
        "no document type at all",
        "types: [pdf, png]",
        "types: []",
        "trigger.documents.types",
        "name at least one of pdf, png, jpeg, tiff",
    ),
    (
        "no documents allowed",
        "max_count: 3",
        "max_count: 0",
        "trigger.documents.max_count",
        "at least 1",
    ),
    (
        "an empty document",
        "max_bytes: 1048576",
        "max_bytes: 0",
        "trigger.documents.max_bytes",
        "out of range",
    ),
    (
        "a document over 50 MiB",
        "max_bytes: 1048576",
        "max_bytes: 52428801",
        "trigger.documents.max_bytes",
        "1 to 52428800 (50 MiB)",
    ),
    (
        "a link prefix whose path does not end in /",
        "allow: ['https://files.example.com/att/']",
        "allow: ['https://files.example.com/att']",
        "trigger.documents.urls.allow[0]",
        "end the path with `/`",
    ),
    (
        "a link prefix that is not http(s)",
        "allow: ['https://files.example.com/att/']",
        "allow: ['ftp://files.example.com/att/']",
        "trigger.documents.urls.allow[0]",
        "not an http(s) URL with a host",
    ),
    (
        "a link prefix with a query",
        "allow: ['https://files.example.com/att/']",
        "allow: ['https://files.example.com/att/?sig=1']",
        "trigger.documents.urls.allow[0]",
        "holds a query or fragment",
    ),
    (
        "links with no prefix allowed",
        "allow: ['https://files.example.com/att/']",
        "allow: []",
        "trigger.documents.urls.allow",
        "name at least one URL prefix",
    ),
    (
        "a link secret the ingest function may not read",
        "secret: crm/documents",
        "secret: crm/token",
        "trigger.documents.urls.auth.secret",
        "named `<something>/documents`",
    ),
    (
        "a fetch longer than the sender waits",
        "timeout_ms: 5000",
        "timeout_ms: 25000",
        "trigger.documents.urls.timeout_ms",
        "1 to 20000",
    ),
    (
        "a misspelt documents key",
        "max_count: 3",
        "max_documents: 3",
        "trigger.documents.max_documents",
        "unknown field `max_documents`",
    ),
    (
        "an authserv-id that is no single token",
        "authserv_id: mx.example.com",
        "authserv_id: 'mx.example.com; spf=pass'",
        "trigger.email.authserv_id",
        "is not an authserv-id",
    ),
    (
        "a recipient that is no address",
        "authserv_id: mx.example.com",
        "authserv_id: mx.example.com, recipients: [ap@example.com, accounts payable]",
        "trigger.email.recipients[1]",
        "`accounts payable` is not an e-mail address",
    ),
    (
        "a misspelt e-mail key",
        "authserv_id: mx.example.com",
        "authserv: mx.example.com",
        "trigger.email.authserv",
        "unknown field `authserv`",
    ),
];

#[test]
fn each_intake_mistake_is_reported_at_its_path() {
    assert_each_reported(INTAKE, INTAKE_MISTAKES, with_intake);
}

#[test]
fn one_inbox_address_starts_one_workflow() {
    let inbox = |name: &str, address: &str| {
        with_intake(&format!("  email: {{ recipients: [{address}] }}\n")).replacen(
            "name: ",
            &format!("name: {name}\n# was: "),
            1,
        )
    };
    let (a, b) = (
        inbox("ap-one", "ap@example.com"),
        inbox("ap-two", "AP@example.com"),
    );

    let err = handoff_spec::Catalog::from_files([
        ("ap-one.yaml", a.as_str()),
        ("ap-two.yaml", b.as_str()),
    ])
    .unwrap_err()
    .to_string();

    assert!(err.contains("trigger.email.recipients"), "{err}");
    assert!(err.contains("already `ap-one`'s inbox"), "{err}");
    let (a, c) = (
        inbox("ap-one", "ap@example.com"),
        inbox("ap-two", "ar@example.com"),
    );
    let catalog = handoff_spec::Catalog::from_files([
        ("ap-one.yaml", a.as_str()),
        ("ap-two.yaml", c.as_str()),
    ])
    .unwrap();
    assert_eq!(
        catalog.for_recipient("AR@Example.com").unwrap().name(),
        "ap-two"
    );
}
