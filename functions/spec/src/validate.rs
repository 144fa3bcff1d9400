//! Checks that need more than the YAML's shape: references between sections,
//! expressions that must compile, numbers that must make sense.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::SpecError;
use crate::model::*;
use crate::rules::CompiledRule;
use crate::sample;
use crate::task::*;

/// Collects problems with their YAML path; the caller adds the file name.
#[derive(Default)]
pub(crate) struct Problems(pub Vec<(String, String)>);

impl Problems {
    pub(crate) fn add(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.0.push((path.into(), reason.into()));
    }

    pub(crate) fn into_errors(self, file: &str) -> Vec<SpecError> {
        self.0
            .into_iter()
            .map(|(path, reason)| SpecError {
                file: file.to_string(),
                path,
                reason,
            })
            .collect()
    }
}

/// Validates everything and compiles the rules (in order) when all is well.
pub(crate) fn validate(stem: &str, spec: &WorkflowSpec) -> Result<Vec<CompiledRule>, Problems> {
    let mut p = Problems::default();
    if spec.name != stem {
        p.add(
            "name",
            format!("`{}` must match the file name `{stem}`", spec.name),
        );
    }
    check_trigger(&spec.trigger, &mut p);
    check_context(spec, &mut p);
    crate::validate_tasks::check_reason(&spec.reason, &mut p);
    let rules = check_rules(spec, &mut p);
    let data = sample::run_data(spec);
    match &spec.approval {
        Some(approval) => check_approval(approval, &mut p),
        None => p.add(
            "approval",
            "missing: low-confidence answers and unmatched runs go to a person, so every workflow names its reviewers",
        ),
    }
    check_actions(&spec.actions, &mut p);
    check_recipients(spec, &mut p);
    for (i, task) in spec.reason.tasks().iter().enumerate() {
        if let TaskKind::Draft(DraftTask {
            template: Some(template),
        }) = &task.kind
        {
            let at = format!("reason[{i}].template");
            check_template(&at, template, &mut p);
            check_renders(&at, template, &data, &mut p);
        }
    }
    check_action_renders(&spec.actions, &data, &mut p);
    if p.0.is_empty() {
        Ok(rules)
    } else {
        Err(p)
    }
}

/// The canonical field the AI step reads.
pub const TEXT_FIELD: &str = "text";

/// How every trigger secret's name ends: the ingest function's policy
/// allows `${SecretPrefix}*/webhook` and nothing else.
pub const TRIGGER_SECRET_SUFFIX: &str = "/webhook";

fn check_trigger(t: &TriggerSpec, p: &mut Problems) {
    let sig = &t.signature;
    if sig.secret.trim().is_empty() {
        p.add("trigger.signature.secret", "missing secret name");
    } else if !sig.secret.ends_with(TRIGGER_SECRET_SUFFIX) {
        // The ingest function may read only secrets named so (template.yaml).
        p.add(
            "trigger.signature.secret",
            format!(
                "`{}`: a trigger's secret is named `<something>{TRIGGER_SECRET_SUFFIX}`, e.g. `support-triage{TRIGGER_SECRET_SUFFIX}`; the function that checks webhooks may read no other",
                sig.secret
            ),
        );
    }
    let generic = sig.scheme == SignatureScheme::Generic;
    if generic && sig.header.is_none() {
        p.add(
            "trigger.signature.header",
            "the generic scheme needs the header that carries the digest",
        );
    }
    if !generic
        && (sig.header.is_some()
            || sig.prefix.is_some()
            || sig.encoding.is_some()
            || sig.timestamp_header.is_some())
    {
        p.add(
            "trigger.signature",
            "header, prefix, encoding and timestamp_header apply to the generic scheme only",
        );
    }
    if sig
        .timestamp_header
        .as_deref()
        .is_some_and(|h| h.trim().is_empty())
    {
        p.add(
            "trigger.signature.timestamp_header",
            "name the header that carries the signed timestamp",
        );
    }
    if let Some(d) = &t.delivery_id {
        match (&d.header, &d.json_path) {
            (Some(_), None) => {}
            (None, Some(path)) => check_json_path("trigger.delivery_id.json_path", path, p),
            _ => p.add(
                "trigger.delivery_id",
                "give exactly one of `header` or `json_path`",
            ),
        }
    }
    if !t.fields.contains_key(TEXT_FIELD) {
        p.add(
            "trigger.fields",
            "must map `text`, the field the AI step reads",
        );
    }
    for (field, path) in &t.fields {
        check_json_path(&format!("trigger.fields.{field}"), path, p);
    }
    for (i, field) in t.required.iter().enumerate() {
        if !t.fields.contains_key(field) {
            p.add(
                format!("trigger.required[{i}]"),
                format!("`{field}` is not a mapped field"),
            );
        }
    }
    if let Some(d) = &t.dedupe {
        if d.business_key.is_empty() {
            p.add(
                "trigger.dedupe.business_key",
                "name at least one mapped field",
            );
        }
        for (i, field) in d.business_key.iter().enumerate() {
            let at = format!("trigger.dedupe.business_key[{i}]");
            if !t.fields.contains_key(field) {
                p.add(
                    at,
                    format!("`{field}` is not a mapped field (see trigger.fields)"),
                );
            } else if d.business_key[..i].contains(field) {
                p.add(at, format!("`{field}` is named twice"));
            }
        }
    }
    if let Some(d) = &t.documents {
        check_documents(d, p);
    }
    if let Some(e) = &t.email {
        check_email(e, p);
    }
}

fn check_documents(d: &DocumentIntakeSpec, p: &mut Problems) {
    if let Some(json) = &d.json {
        check_json_path("trigger.documents.json.items", &json.items, p);
        let members = [
            ("content", Some(&json.content)),
            ("name", json.name.as_ref()),
            ("media_type", json.media_type.as_ref()),
        ];
        check_item_members("trigger.documents.json", members, "content_base64", p);
    }
    if let Some(urls) = &d.urls {
        check_document_urls(urls, p);
    }
    if d.max_count == 0 {
        p.add("trigger.documents.max_count", "must be at least 1");
    }
    if d.max_bytes == 0 || d.max_bytes > MAX_DOCUMENT_BYTES {
        p.add(
            "trigger.documents.max_bytes",
            format!(
                "{} is out of range: 1 to {MAX_DOCUMENT_BYTES} (50 MiB)",
                d.max_bytes
            ),
        );
    }
    if d.types.is_empty() {
        p.add(
            "trigger.documents.types",
            format!("name at least one of {}", DOCUMENT_TYPES.join(", ")),
        );
    }
    for (i, t) in d.types.iter().enumerate() {
        if !DOCUMENT_TYPES.contains(&t.as_str()) {
            p.add(
                format!("trigger.documents.types[{i}]"),
                format!(
                    "`{t}` is not a document type; the types are {}",
                    DOCUMENT_TYPES.join(", ")
                ),
            );
        }
    }
}

/// Each member name given for a document item must name something.
fn check_item_members(
    at: &str,
    members: [(&str, Option<&String>); 3],
    example: &str,
    p: &mut Problems,
) {
    for (key, member) in members {
        if member.is_some_and(|m| m.trim().is_empty()) {
            p.add(
                format!("{at}.{key}"),
                format!("name the member of each item, e.g. `{example}`"),
            );
        }
    }
}

/// How the secret of a document fetch's header is named: the ingest
/// function's policy allows `${SecretPrefix}*/documents` besides webhooks'.
pub const DOCUMENT_SECRET_SUFFIX: &str = "/documents";

fn check_document_urls(urls: &UrlDocumentsSpec, p: &mut Problems) {
    check_json_path("trigger.documents.urls.items", &urls.items, p);
    let members = [
        ("url", Some(&urls.url)),
        ("name", urls.name.as_ref()),
        ("media_type", urls.media_type.as_ref()),
    ];
    check_item_members("trigger.documents.urls", members, "content_url", p);
    if urls.allow.is_empty() {
        p.add(
            "trigger.documents.urls.allow",
            "name at least one URL prefix the links may start with, e.g. `https://files.example.com/attachments/`",
        );
    }
    for (i, prefix) in urls.allow.iter().enumerate() {
        if let Err(why) = check_url_prefix(prefix) {
            p.add(format!("trigger.documents.urls.allow[{i}]"), why);
        }
    }
    if let Some(auth) = &urls.auth {
        if !auth.secret.ends_with(DOCUMENT_SECRET_SUFFIX) {
            // The ingest function may read only secrets named so (template.yaml).
            p.add(
                "trigger.documents.urls.auth.secret",
                format!(
                    "`{}`: a document fetch's secret is named `<something>{DOCUMENT_SECRET_SUFFIX}`, e.g. `crm{DOCUMENT_SECRET_SUFFIX}`; the function that takes deliveries may read no other",
                    auth.secret
                ),
            );
        }
    }
    if urls.timeout_ms == 0 || urls.timeout_ms > MAX_DOCUMENT_FETCH_MS {
        p.add(
            "trigger.documents.urls.timeout_ms",
            format!(
                "{} is out of range: 1 to {MAX_DOCUMENT_FETCH_MS}",
                urls.timeout_ms
            ),
        );
    }
}

/// An `allow` entry: an http(s) origin and a path ending in `/`, nothing
/// else, so what it lets through is plain to read.
fn check_url_prefix(prefix: &str) -> Result<(), String> {
    let url = url::Url::parse(prefix).map_err(|e| format!("`{prefix}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(format!("`{prefix}` is not an http(s) URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{prefix}` holds user info"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{prefix}` holds a query or fragment"));
    }
    if !url.path().ends_with('/') {
        return Err(format!(
            "`{prefix}`: end the path with `/`, so `/files` does not also allow `/files-private`"
        ));
    }
    Ok(())
}

fn check_email(e: &EmailIntakeSpec, p: &mut Problems) {
    for (i, address) in e.recipients.iter().enumerate() {
        let valid = address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !address.contains(char::is_whitespace);
        if !valid {
            p.add(
                format!("trigger.email.recipients[{i}]"),
                format!("`{address}` is not an e-mail address"),
            );
        }
    }
    let Some(id) = &e.authserv_id else { return };
    // An authserv-id is one token (RFC 8601 `value`): a space or `;` in it
    // could never equal the one a header names.
    if id.is_empty() || id.contains(|c: char| c.is_whitespace() || c == ';' || c == '(') {
        p.add(
            "trigger.email.authserv_id",
            format!("`{id}` is not an authserv-id: name the mail server, e.g. `mx.example.com`"),
        );
    }
}

fn check_json_path(at: &str, path: &str, p: &mut Problems) {
    if let Err(e) = crate::parse_json_path(path) {
        p.add(at, format!("invalid JSONPath `{path}`: {e}"));
    }
}

fn check_context(spec: &WorkflowSpec, p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, lookup) in spec.context.lookups.iter().enumerate() {
        let at = format!("context.lookups[{i}]");
        if !seen.insert(lookup.name()) {
            p.add(
                format!("{at}.name"),
                format!("duplicate lookup `{}`", lookup.name()),
            );
        }
        if lookup.max_bytes() == Some(0) {
            p.add(format!("{at}.max_bytes"), "must be positive");
        }
        match lookup {
            LookupSpec::Static { key_field, .. } => {
                if !spec.trigger.fields.contains_key(key_field) {
                    p.add(
                        format!("{at}.key_field"),
                        format!("`{key_field}` is not a mapped trigger field"),
                    );
                }
            }
            LookupSpec::Http(h) => check_http_lookup(&at, h, &sample::lookup_data(spec), p),
            LookupSpec::PriorRuns { .. } => {}
        }
    }
    if spec.context.max_bytes == 0 {
        p.add("context.max_bytes", "must be positive");
    }
    if spec.context.max_tokens == Some(0) {
        p.add("context.max_tokens", "must be positive");
    }
}

fn check_http_lookup(at: &str, h: &HttpLookup, data: &serde_json::Value, p: &mut Problems) {
    check_url(&format!("{at}.url"), &h.url, p);
    check_renders(&format!("{at}.url"), &h.url, data, p);
    if let Some(auth) = &h.auth {
        if auth.secret.trim().is_empty() {
            p.add(format!("{at}.auth.secret"), "missing secret name");
        }
        if auth.header.trim().is_empty() {
            p.add(format!("{at}.auth.header"), "missing header name");
        }
    }
    if h.timeout_ms == 0 {
        p.add(format!("{at}.timeout_ms"), "must be positive");
    }
    for (field, path) in &h.fields {
        check_json_path(&format!("{at}.fields.{field}"), path, p);
    }
}

fn check_rules(spec: &WorkflowSpec, p: &mut Problems) -> Vec<CompiledRule> {
    if spec.rules.is_empty() {
        p.add("rules", "at least one rule is needed");
    }
    let actions: BTreeSet<&str> = spec.actions.iter().map(|a| a.name.as_str()).collect();
    let mut names = BTreeSet::new();
    let mut compiled = Vec::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let at = format!("rules[{i}]");
        if !names.insert(rule.name.as_str()) {
            p.add(
                format!("{at}.name"),
                format!("duplicate rule `{}`", rule.name),
            );
        }
        match CompiledRule::compile(&rule.name, &rule.when) {
            Ok(c) => compiled.push(c),
            Err(e) => p.add(format!("{at}.when"), format!("invalid CEL: {e}")),
        }
        check_ai_references(&format!("{at}.when"), &rule.when, &spec.reason, p);
        for (j, action) in rule.actions.iter().enumerate() {
            if !actions.contains(action.as_str()) {
                p.add(
                    format!("{at}.actions[{j}]"),
                    format!("unknown action `{action}`"),
                );
            }
        }
        if rule.approval && spec.approval.is_none() {
            p.add(
                format!("{at}.approval"),
                "the workflow has no `approval` section",
            );
        }
    }
    compiled
}

/// Every `ai.<task>` a rule reads is a task, and every label literal it
/// compares `ai.<task>.label` with is one of that task's labels.
fn check_ai_references(at: &str, expr: &str, reason: &ReasonSpec, p: &mut Problems) {
    for name in crate::validate_tasks::ai_names_in(expr) {
        if reason.task(&name).is_none() && !RESERVED_AI_NAMES.contains(&name.as_str()) {
            p.add(at, crate::validate_tasks::unknown_task(&name));
        }
    }
    for (task, label) in labels_named_in(expr) {
        let Some(TaskKind::Classify(c)) = reason.task(&task).map(|t| &t.kind) else {
            if reason.task(&task).is_some() {
                p.add(
                    at,
                    format!("`ai.{task}` is not a classify task: it has no label"),
                );
            }
            continue;
        };
        if !c.labels.iter().any(|l| l.name == label) {
            p.add(at, format!("unknown label `{label}` of task `{task}`"));
        }
    }
}

/// `(task, label)` for each literal a rule compares `ai.<task>.label` with
/// (`==`, `!=`, `in [...]`).
fn labels_named_in(expr: &str) -> Vec<(String, String)> {
    static CMP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"ai\.(\w+)\.label\s*[!=]=\s*["']([^"']*)["']|["']([^"']*)["']\s*[!=]=\s*ai\.(\w+)\.label"#)
            .unwrap()
    });
    static IN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"ai\.(\w+)\.label\s+in\s+\[([^\]]*)\]").unwrap());
    static QUOTED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"["']([^"']*)["']"#).unwrap());
    let mut out: Vec<(String, String)> = CMP
        .captures_iter(expr)
        .filter_map(|c| match (c.get(1), c.get(2), c.get(3), c.get(4)) {
            (Some(t), Some(l), _, _) | (_, _, Some(l), Some(t)) => {
                Some((t.as_str().to_string(), l.as_str().to_string()))
            }
            _ => None,
        })
        .collect();
    for list in IN.captures_iter(expr) {
        out.extend(
            QUOTED
                .captures_iter(&list[2])
                .map(|c| (list[1].to_string(), c[1].to_string())),
        );
    }
    out
}

fn check_approval(a: &ApprovalSpec, p: &mut Problems) {
    if a.reviewers.is_empty() {
        p.add("approval.reviewers", "at least one reviewer is needed");
    }
    if a.required == 0 || a.required > a.reviewers.len() {
        p.add(
            "approval.required",
            format!(
                "must be between 1 and the number of reviewers ({})",
                a.reviewers.len()
            ),
        );
    }
    if a.timeout_seconds == 0 {
        p.add("approval.timeout_seconds", "must be positive");
    }
    if a.on_timeout == OnTimeout::Escalate && a.escalate_to.is_empty() {
        p.add(
            "approval.escalate_to",
            "on_timeout: escalate needs reviewers to escalate to",
        );
    }
    if let Some(before) = a.remind_before_seconds {
        let shortest = a
            .escalation_timeout_seconds
            .map_or(a.timeout_seconds, |e| e.min(a.timeout_seconds));
        if before == 0 || before >= shortest {
            p.add(
                "approval.remind_before_seconds",
                format!("must be between 1 and the timeout ({shortest} s) minus one"),
            );
        }
    }
    for (i, channel) in a.notify.iter().enumerate() {
        let at = format!("approval.notify[{i}]");
        if a.notify[..i].contains(channel) {
            p.add(&at, "listed twice: reviewers would get every message twice");
        }
        match channel {
            NotifyChannel::Email => {}
            NotifyChannel::Slack { webhook_secret } => {
                if webhook_secret.trim().is_empty() {
                    p.add(format!("{at}.slack.webhook_secret"), "missing secret name");
                }
            }
            NotifyChannel::Webhook { url, secret } => {
                check_notify_url(&format!("{at}.webhook.url"), url, p);
                if secret.trim().is_empty() {
                    p.add(format!("{at}.webhook.secret"), "missing secret name");
                }
            }
        }
    }
}

/// Notification URLs are sent as written: no template, an absolute http(s) URL.
fn check_notify_url(at: &str, url: &str, p: &mut Problems) {
    if crate::origin::has_template(url) || crate::origin::literal_origin(url).is_err() {
        p.add(
            at,
            format!("`{url}` is not an absolute http(s) URL (sent as written, no template)"),
        );
    }
}

fn check_actions(actions: &[ActionSpec], p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, action) in actions.iter().enumerate() {
        let at = format!("actions[{i}]");
        if !seen.insert(action.name.as_str()) {
            p.add(
                format!("{at}.name"),
                format!("duplicate action `{}`", action.name),
            );
        }
        match &action.connector {
            Connector::Webhook { url, secret, body } => {
                check_url(&format!("{at}.url"), url, p);
                if secret.trim().is_empty() {
                    p.add(format!("{at}.secret"), "missing secret name");
                }
                check_template(&format!("{at}.body"), body, p);
            }
            Connector::Slack {
                webhook_secret,
                text,
            } => {
                if webhook_secret.trim().is_empty() {
                    p.add(format!("{at}.webhook_secret"), "missing secret name");
                }
                check_template(&format!("{at}.text"), text, p);
            }
            Connector::Email { to, subject, body } => {
                check_template(&format!("{at}.to"), to, p);
                check_template(&format!("{at}.subject"), subject, p);
                check_template(&format!("{at}.body"), body, p);
            }
            Connector::Http {
                method,
                url,
                headers,
                body,
            } => {
                if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
                    p.add(
                        format!("{at}.method"),
                        format!("unsupported method `{method}`"),
                    );
                }
                check_url(&format!("{at}.url"), url, p);
                for (name, value) in headers {
                    check_template(&format!("{at}.headers.{name}"), value, p);
                }
                check_template(&format!("{at}.body"), body, p);
            }
        }
    }
}

/// An outbound URL template: its origin written out, the rest a template.
fn check_url(at: &str, url: &str, p: &mut Problems) {
    if let Err(reason) = crate::origin::literal_origin(url) {
        p.add(at, reason);
    }
    check_template(at, url, p);
}

/// An e-mail action whose `to` is a template may be steered by the webhook
/// to any address: every rule that performs it must ask a reviewer, or the
/// spec must say where it may send (checked again at run time).
fn check_recipients(spec: &WorkflowSpec, p: &mut Problems) {
    for (i, entry) in spec.outbound.allowed_recipients.iter().enumerate() {
        let entry = entry.trim();
        let domain = entry.rsplit('@').next().unwrap_or_default();
        if domain.is_empty() || entry.chars().any(char::is_whitespace) {
            p.add(
                format!("outbound.allowed_recipients[{i}]"),
                format!("`{entry}` is neither an address nor a domain"),
            );
        }
    }
    if !spec.outbound.allowed_recipients.is_empty() {
        return;
    }
    for (i, action) in spec.actions.iter().enumerate() {
        let Connector::Email { to, .. } = &action.connector else {
            continue;
        };
        if !crate::origin::has_template(to) {
            continue;
        }
        let unapproved: Vec<&str> = spec
            .rules
            .iter()
            .filter(|r| !r.approval && r.actions.contains(&action.name))
            .map(|r| r.name.as_str())
            .collect();
        if !unapproved.is_empty() {
            p.add(
                format!("actions[{i}].to"),
                format!(
                    "the recipient comes from the run's data, and rule `{}` sends without approval: set `approval: true` there or list `outbound.allowed_recipients`",
                    unapproved.join("`, `")
                ),
            );
        }
    }
}

/// Renders each action template against the sample run data.
fn check_action_renders(actions: &[ActionSpec], data: &serde_json::Value, p: &mut Problems) {
    for (i, action) in actions.iter().enumerate() {
        let at = |field: &str| format!("actions[{i}].{field}");
        let templates: Vec<(String, &String)> = match &action.connector {
            Connector::Webhook { url, body, .. } => vec![(at("url"), url), (at("body"), body)],
            Connector::Slack { text, .. } => vec![(at("text"), text)],
            Connector::Email { to, subject, body } => {
                vec![(at("to"), to), (at("subject"), subject), (at("body"), body)]
            }
            Connector::Http {
                url, headers, body, ..
            } => {
                let mut t = vec![(at("url"), url), (at("body"), body)];
                t.extend(
                    headers
                        .iter()
                        .map(|(k, v)| (at(&format!("headers.{k}")), v)),
                );
                t
            }
        };
        for (path, source) in templates {
            check_renders(&path, source, data, p);
        }
    }
}

/// A template that parses but names something the workflow never defines
/// (`event.sendr`, `ai.details.iban`) fails here rather than at run time.
/// Templates that do not parse are reported by [`check_template`] already.
fn check_renders(at: &str, source: &str, data: &serde_json::Value, p: &mut Problems) {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let Ok(template) = env.template_from_str(source) else {
        return;
    };
    // Filters and tests accept undefined values even in strict mode
    // (`{{ event.sendr | urlencode }}` renders ""), so the names the template
    // reads are checked against the data first.
    let mut unknown: Vec<String> = template
        .undeclared_variables(true)
        .into_iter()
        .filter(|name| !is_defined(data, name))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        p.add(
            at,
            format!(
                "template does not render against the workflow's fields: `{}` is not defined",
                unknown.join("`, `")
            ),
        );
        return;
    }
    if let Err(e) = template.render(minijinja::Value::from(minijinja::value::Serde(data))) {
        p.add(
            at,
            format!("template does not render against the workflow's fields: {e}"),
        );
    }
}

/// Whether a dotted name (`event.sender`, `ai.details.amount.value`) exists
/// in the sample data. Names outside the data's roots (template globals)
/// and paths into values of unknown shape count as defined.
fn is_defined(data: &serde_json::Value, name: &str) -> bool {
    let mut parts = name.split('.');
    let Some(root) = parts.next() else {
        return true;
    };
    let Some(mut at) = data.get(root) else {
        return true;
    };
    for part in parts {
        match at {
            serde_json::Value::Object(map) => match map.get(part) {
                Some(next) => at = next,
                None => return false,
            },
            _ => return true,
        }
    }
    true
}

fn check_template(at: &str, source: &str, p: &mut Problems) {
    let env = minijinja::Environment::new();
    if let Err(e) = env.template_from_str(source) {
        p.add(at, format!("invalid template: {e}"));
    }
}
