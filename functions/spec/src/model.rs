//! The shape of `workflows/<name>.yaml`. Unknown keys are errors: a typo in a
//! spec must not silently turn a rule or a policy off.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::task::ReasonSpec;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    pub version: u32,
    #[serde(default)]
    pub description: String,
    pub trigger: TriggerSpec,
    #[serde(default)]
    pub context: ContextSpec,
    pub reason: ReasonSpec,
    /// Tokens the LLM tiers may spend and how long their answers are
    /// reused; over a budget the cascade stops at the cheaper tier or the
    /// run goes to review, audited.
    #[serde(default)]
    pub budget: BudgetSpec,
    pub rules: Vec<RuleSpec>,
    #[serde(default)]
    pub approval: Option<ApprovalSpec>,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    /// Exceptions to the outbound guards, named one by one.
    #[serde(default)]
    pub outbound: OutboundSpec,
    /// Pilot mode: actions are rendered and recorded, never sent.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// Input plus output tokens of one run, over all its tasks.
    #[serde(default)]
    pub run_tokens: Option<u64>,
    /// Input plus output tokens of all the workflow's runs in one UTC day.
    #[serde(default)]
    pub daily_tokens: Option<u64>,
    /// How long a billed tier's validated answer is reused for an identical
    /// prompt; 0 turns the cache off.
    #[serde(default = "default_cache_ttl_seconds")]
    pub cache_ttl_seconds: u64,
}

impl Default for BudgetSpec {
    fn default() -> Self {
        Self {
            run_tokens: None,
            daily_tokens: None,
            cache_ttl_seconds: default_cache_ttl_seconds(),
        }
    }
}

/// A day: an answer is reused while the same question keeps coming.
fn default_cache_ttl_seconds() -> u64 {
    86_400
}

// ---------------------------------------------------------------- trigger

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    pub signature: SignatureSpec,
    #[serde(default)]
    pub delivery_id: Option<DeliveryIdSpec>,
    /// Canonical field name → JSONPath into the payload.
    pub fields: BTreeMap<String, String>,
    /// Canonical fields that must resolve, or the webhook answers 422.
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub dedupe: Option<DedupeSpec>,
    /// Documents (invoice PDFs, scans) a delivery may carry; without it a
    /// delivery carries none and `multipart/form-data` is refused.
    #[serde(default)]
    pub documents: Option<DocumentIntakeSpec>,
    /// E-mail intake: a raw `message/rfc822` body is taken only when set.
    #[serde(default)]
    pub email: Option<EmailIntakeSpec>,
}

/// What else, besides the delivery id and the body, makes two deliveries
/// the same one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeSpec {
    /// Canonical fields whose values together name one business event (an
    /// invoice: its number and supplier). A second delivery with the same
    /// values is a duplicate of the first run, forever. An event missing
    /// one of them is deduplicated by delivery id and body only at intake;
    /// after the AI step, each field it lacks is taken from the same-named
    /// field of an extract task's result (the first, in `reason` order, that
    /// holds it as a non-blank scalar). Values are hashed alike either way,
    /// so an invoice whose number was typed out and the same invoice whose
    /// number was extracted have one key. A run whose key an earlier run
    /// holds by then is not refused but sent to a person as a possible
    /// duplicate, whatever the rules decided.
    pub business_key: Vec<String>,
}

/// The document types a workflow can take, by the name `types` uses.
pub const DOCUMENT_TYPES: [&str; 4] = ["pdf", "png", "jpeg", "tiff"];

/// What documents a delivery may carry and where they are. They are stored
/// apart from the event, which refers to them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentIntakeSpec {
    /// Base64 documents inside a JSON body: where each one is.
    #[serde(default)]
    pub json: Option<JsonDocumentsSpec>,
    /// Documents a JSON body links to, fetched while the delivery is taken.
    #[serde(default)]
    pub urls: Option<UrlDocumentsSpec>,
    /// At most this many documents per delivery.
    #[serde(default = "default_max_documents")]
    pub max_count: usize,
    /// Each document at most this many bytes, decoded.
    #[serde(default = "default_max_document_bytes")]
    pub max_bytes: usize,
    /// Types taken (of [`DOCUMENT_TYPES`]); anything else is refused.
    #[serde(default = "default_document_types")]
    pub types: Vec<String>,
}

impl Default for DocumentIntakeSpec {
    fn default() -> Self {
        Self {
            json: None,
            urls: None,
            max_count: default_max_documents(),
            max_bytes: default_max_document_bytes(),
            types: default_document_types(),
        }
    }
}

/// The largest `max_bytes` a spec may set: what one run's documents may
/// add to the store and to a reader's memory stays bounded.
pub const MAX_DOCUMENT_BYTES: usize = 50 * 1024 * 1024;

fn default_max_documents() -> usize {
    10
}

fn default_max_document_bytes() -> usize {
    10 * 1024 * 1024
}

fn default_document_types() -> Vec<String> {
    DOCUMENT_TYPES.iter().map(|t| t.to_string()).collect()
}

/// Base64 documents in a JSON body, e.g. `items: $.attachments[*]`,
/// `content: content_base64`, `name: filename`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonDocumentsSpec {
    /// JSONPath to the objects that each hold one document.
    pub items: String,
    /// The member of such an object holding the base64 content.
    pub content: String,
    /// The member holding the document's file name.
    #[serde(default)]
    pub name: Option<String>,
    /// The member holding the sender's declared media type.
    #[serde(default)]
    pub media_type: Option<String>,
}

/// Documents a JSON body links to, e.g. `items: $.attachments[*]`,
/// `url: content_url`, fetched before the delivery is answered: a link that
/// cannot be fetched refuses the delivery, so the sender retries it. The
/// link is the sender's, so only the origins and paths `allow` names are
/// fetched, under the outbound rules every call follows (https, public
/// addresses unless `outbound.allow_private_hosts` names the host,
/// redirects within the origin).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlDocumentsSpec {
    /// JSONPath to the objects that each link to one document.
    pub items: String,
    /// The member of such an object holding the document's URL.
    pub url: String,
    /// The member holding the document's file name.
    #[serde(default)]
    pub name: Option<String>,
    /// The member holding the sender's declared media type.
    #[serde(default)]
    pub media_type: Option<String>,
    /// URL prefixes a link must start with: an origin and a path ending in
    /// `/`, e.g. `https://files.example.com/attachments/`.
    pub allow: Vec<String>,
    /// A header sent with each fetch whose value is a secret; the secret is
    /// named `<something>/documents`.
    #[serde(default)]
    pub auth: Option<LookupAuth>,
    /// Each fetch, connect to last byte; the links are fetched together.
    #[serde(default = "default_document_fetch_ms")]
    pub timeout_ms: u64,
}

/// The longest a spec may let a document fetch take: the webhook's sender
/// waits for it, and the function that takes deliveries stops at 30 s.
pub const MAX_DOCUMENT_FETCH_MS: u64 = 20_000;

fn default_document_fetch_ms() -> u64 {
    10_000
}

impl UrlDocumentsSpec {
    /// Whether `url` starts with one of the `allow` prefixes: the same
    /// scheme, host and port, and a path under the prefix's. The URL is
    /// compared parsed (dot segments resolved, host lower-cased), so
    /// `https://files.example.com.evil.test/` and `/attachments/../admin`
    /// do not pass.
    pub fn allows(&self, url: &url::Url) -> bool {
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        self.allow.iter().any(|prefix| {
            url::Url::parse(prefix).is_ok_and(|prefix| {
                prefix.origin().is_tuple()
                    && prefix.origin() == url.origin()
                    && url.path().starts_with(prefix.path())
            })
        })
    }
}

/// E-mail delivered as a raw message.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailIntakeSpec {
    /// The mail server whose `Authentication-Results` header is believed
    /// (RFC 8601 authserv-id), for e-mail POSTed to the webhook route.
    /// Headers naming any other server are ignored: a sender can write any
    /// header. In AWS the SES receipt's verdicts are used instead.
    #[serde(default)]
    pub authserv_id: Option<String>,
    /// The addresses this workflow's inbox receives at: mail SES receives
    /// for one of them starts a run of this workflow.
    #[serde(default)]
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureScheme {
    Github,
    Stripe,
    Slack,
    Shopify,
    Zendesk,
    Hubspot,
    Generic,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestEncoding {
    Hex,
    Base64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    pub scheme: SignatureScheme,
    /// Name of the shared secret in the secrets store.
    pub secret: String,
    /// How far a signed timestamp may be from now, for schemes that sign one.
    #[serde(default)]
    pub tolerance_seconds: Option<u64>,
    /// Generic scheme only: the header carrying the digest.
    #[serde(default)]
    pub header: Option<String>,
    /// Generic scheme only: text before the digest, e.g. `sha256=`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Generic scheme only.
    #[serde(default)]
    pub encoding: Option<DigestEncoding>,
    /// Generic scheme only: the header carrying a Unix-seconds timestamp
    /// the sender signs with the body (`{timestamp}.{body}`), checked
    /// against `tolerance_seconds`, so a captured request cannot be
    /// replayed later. Without it the generic scheme signs the body alone.
    #[serde(default)]
    pub timestamp_header: Option<String>,
}

/// Where the sender's delivery id is: exactly one of the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryIdSpec {
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub json_path: Option<String>,
}

// ---------------------------------------------------------------- context

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSpec {
    /// Upper bound on the serialised context of one run.
    #[serde(default = "default_context_bytes")]
    pub max_bytes: usize,
    /// Upper bound in estimated LLM tokens (bytes / 4); the tighter of the
    /// two budgets applies.
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub lookups: Vec<LookupSpec>,
}

impl Default for ContextSpec {
    fn default() -> Self {
        Self {
            max_bytes: default_context_bytes(),
            max_tokens: None,
            lookups: Vec::new(),
        }
    }
}

/// Bytes per token, the usual estimate for English text and JSON.
pub const BYTES_PER_TOKEN: usize = 4;

impl ContextSpec {
    /// The total budget in bytes: `max_bytes`, or less if `max_tokens` says so.
    pub fn budget_bytes(&self) -> usize {
        match self.max_tokens {
            Some(tokens) => self.max_bytes.min(tokens.saturating_mul(BYTES_PER_TOKEN)),
            None => self.max_bytes,
        }
    }
}

fn default_context_bytes() -> usize {
    16 * 1024
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum LookupSpec {
    /// Earlier runs of the same sender in this workflow.
    PriorRuns {
        name: String,
        #[serde(default = "default_prior_runs")]
        limit: usize,
        #[serde(default)]
        max_bytes: Option<usize>,
    },
    /// A table shipped with the workflow, keyed by a canonical field.
    Static {
        name: String,
        key_field: String,
        table: BTreeMap<String, serde_json::Value>,
        #[serde(default)]
        default: Option<serde_json::Value>,
        #[serde(default)]
        max_bytes: Option<usize>,
    },
    /// An HTTP GET to another system (a CRM, a billing API).
    Http(HttpLookup),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpLookup {
    pub name: String,
    /// A minijinja template over `event` (the canonical fields) and `run`.
    pub url: String,
    #[serde(default)]
    pub auth: Option<LookupAuth>,
    #[serde(default = "default_lookup_timeout_ms")]
    pub timeout_ms: u64,
    /// Context field → JSONPath into the JSON response. Empty: the whole body.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub on_failure: OnFailure,
    #[serde(default)]
    pub max_bytes: Option<usize>,
}

/// A header whose value is a secret from the secrets store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupAuth {
    #[serde(default = "default_auth_header")]
    pub header: String,
    /// Name of the secret in the secrets store.
    pub secret: String,
    /// Text before the secret, e.g. `Bearer `.
    #[serde(default)]
    pub prefix: String,
}

fn default_auth_header() -> String {
    "Authorization".into()
}

fn default_lookup_timeout_ms() -> u64 {
    2000
}

/// What a failed lookup does to the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Go on without it; the failure is recorded in the audit trail.
    #[default]
    Continue,
    /// Fail the context stage.
    Fail,
}

impl LookupSpec {
    pub fn name(&self) -> &str {
        match self {
            LookupSpec::PriorRuns { name, .. } | LookupSpec::Static { name, .. } => name,
            LookupSpec::Http(h) => &h.name,
        }
    }

    /// This lookup's own byte budget, if it has one.
    pub fn max_bytes(&self) -> Option<usize> {
        match self {
            LookupSpec::PriorRuns { max_bytes, .. } | LookupSpec::Static { max_bytes, .. } => {
                *max_bytes
            }
            LookupSpec::Http(h) => h.max_bytes,
        }
    }
}

fn default_prior_runs() -> usize {
    5
}

// ---------------------------------------------------------------- rules

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    /// A CEL expression over `event`, `ai` and `context`; must yield a bool.
    pub when: String,
    pub route: String,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub approval: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

// ---------------------------------------------------------------- approval

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    pub reviewers: Vec<String>,
    #[serde(default = "one")]
    pub required: usize,
    pub timeout_seconds: u64,
    pub on_timeout: OnTimeout,
    #[serde(default)]
    pub escalate_to: Vec<String>,
    #[serde(default)]
    pub escalation_timeout_seconds: Option<u64>,
    /// Reviewers who have not answered are reminded this long before
    /// their link expires.
    #[serde(default)]
    pub remind_before_seconds: Option<u64>,
    /// How reviewers hear of a request, each on every channel listed;
    /// e-mail when empty.
    #[serde(default)]
    pub notify: Vec<NotifyChannel>,
}

/// `notify: [email, {slack: {webhook_secret: …}}, {webhook: {url, secret}}]`
/// (serde_yaml reads externally tagged enums only from `!tags`, so the
/// one-key maps are read by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_yaml_ng::Value", into = "serde_yaml_ng::Value")]
pub enum NotifyChannel {
    /// Each reviewer at their address (SES in AWS; console and outbox locally).
    Email,
    /// A Slack incoming webhook. Its URL is a credential, so the spec names
    /// the secret holding it.
    Slack { webhook_secret: String },
    /// A JSON POST signed like the `webhook` action.
    Webhook { url: String, secret: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackFields {
    webhook_secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookFields {
    url: String,
    secret: String,
}

impl TryFrom<serde_yaml_ng::Value> for NotifyChannel {
    type Error = String;

    fn try_from(value: serde_yaml_ng::Value) -> Result<Self, String> {
        use serde_yaml_ng::Value;
        let (name, fields) =
            match value {
                Value::String(name) => (name, Value::Null),
                Value::Mapping(map) if map.len() == 1 => {
                    let (key, fields) = map.into_iter().next().expect("one entry");
                    match key {
                        Value::String(name) => (name, fields),
                        _ => return Err("a channel is named by a string".into()),
                    }
                }
                _ => return Err(
                    "expected `email`, `{slack: {webhook_secret}}` or `{webhook: {url, secret}}`"
                        .into(),
                ),
            };
        let fields_of = |fields: Value| -> Result<_, String> {
            if fields.is_null() {
                Err(format!("`{name}` needs its settings"))
            } else {
                Ok(fields)
            }
        };
        match name.as_str() {
            "email" if fields.is_null() => Ok(NotifyChannel::Email),
            "email" => Err("`email` takes no settings".into()),
            "slack" => {
                let f: SlackFields = serde_yaml_ng::from_value(fields_of(fields)?)
                    .map_err(|e| format!("slack: {e}"))?;
                Ok(NotifyChannel::Slack {
                    webhook_secret: f.webhook_secret,
                })
            }
            "webhook" => {
                let f: WebhookFields = serde_yaml_ng::from_value(fields_of(fields)?)
                    .map_err(|e| format!("webhook: {e}"))?;
                Ok(NotifyChannel::Webhook {
                    url: f.url,
                    secret: f.secret,
                })
            }
            other => Err(format!(
                "unknown channel `{other}`; one of email, slack, webhook"
            )),
        }
    }
}

impl From<NotifyChannel> for serde_yaml_ng::Value {
    fn from(channel: NotifyChannel) -> Self {
        use serde_yaml_ng::{Mapping, Value};
        let one = |key: &str, fields: Vec<(&str, String)>| {
            let mut inner = Mapping::new();
            for (k, v) in fields {
                inner.insert(Value::from(k), Value::from(v));
            }
            let mut outer = Mapping::new();
            outer.insert(Value::from(key), Value::Mapping(inner));
            Value::Mapping(outer)
        };
        match channel {
            NotifyChannel::Email => Value::from("email"),
            NotifyChannel::Slack { webhook_secret } => {
                one("slack", vec![("webhook_secret", webhook_secret)])
            }
            NotifyChannel::Webhook { url, secret } => {
                one("webhook", vec![("url", url), ("secret", secret)])
            }
        }
    }
}

impl NotifyChannel {
    pub fn kind(&self) -> &'static str {
        match self {
            NotifyChannel::Email => "email",
            NotifyChannel::Slack { .. } => "slack",
            NotifyChannel::Webhook { .. } => "webhook",
        }
    }

    /// The secret the channel needs, if any.
    pub fn secret(&self) -> Option<&str> {
        match self {
            NotifyChannel::Email => None,
            NotifyChannel::Slack { webhook_secret } => Some(webhook_secret),
            NotifyChannel::Webhook { secret, .. } => Some(secret),
        }
    }
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    Reject,
    Escalate,
    Approve,
}

// ---------------------------------------------------------------- outbound

/// Outbound calls go to the origins the spec writes out, over public
/// addresses; e-mail goes to a templated address only behind approval.
/// These lists are the named exceptions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSpec {
    /// Host names (as written in action and lookup URLs) that may resolve
    /// to loopback, private or link-local addresses, e.g. `crm.internal`.
    #[serde(default)]
    pub allow_private_hosts: Vec<String>,
    /// Where an e-mail action whose `to` is templated may send without a
    /// reviewer's approval: `ops@example.com` (that address) or
    /// `example.com` (that domain and its subdomains).
    #[serde(default)]
    pub allowed_recipients: Vec<String>,
}

impl OutboundSpec {
    /// Whether `address` matches an entry of `allowed_recipients`.
    pub fn allows_recipient(&self, address: &str) -> bool {
        let address = address.trim().to_ascii_lowercase();
        let Some((local, domain)) = address.rsplit_once('@') else {
            return false;
        };
        if local.is_empty() || domain.is_empty() || address.chars().any(char::is_whitespace) {
            return false;
        }
        self.allowed_recipients.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            if entry.contains('@') {
                entry == address
            } else {
                let entry = entry.trim_start_matches('.');
                domain == entry || domain.ends_with(&format!(".{entry}"))
            }
        })
    }

    /// Whether `host` is named in `allow_private_hosts`.
    pub fn allows_private_host(&self, host: &str) -> bool {
        self.allow_private_hosts.iter().any(|h| {
            h.trim_end_matches('.')
                .eq_ignore_ascii_case(host.trim_end_matches('.'))
        })
    }
}

// ---------------------------------------------------------------- actions

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawAction", into = "RawAction")]
pub struct ActionSpec {
    pub name: String,
    pub connector: Connector,
}

/// Bodies and URLs are minijinja templates over the run's data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Connector {
    /// The generic connector: a JSON POST signed with HMAC-SHA256.
    Webhook {
        url: String,
        secret: String,
        body: String,
    },
    /// A Slack incoming webhook. Its URL is a credential, so the spec names
    /// the secret holding it.
    Slack {
        webhook_secret: String,
        text: String,
    },
    Email {
        to: String,
        subject: String,
        body: String,
    },
    /// A REST call to a ticketing or CRM system.
    Http {
        method: String,
        url: String,
        headers: BTreeMap<String, String>,
        body: String,
    },
}

/// The YAML form: `name` beside the `type` tag. Serde cannot deny unknown
/// keys through `flatten`, so the name lives in every variant here.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
enum RawAction {
    Webhook {
        name: String,
        url: String,
        secret: String,
        body: String,
    },
    Slack {
        name: String,
        #[serde(default)]
        webhook_secret: Option<String>,
        /// Only to say where it went: the URL is a credential.
        #[serde(default, skip_serializing)]
        url: Option<String>,
        text: String,
    },
    Email {
        name: String,
        to: String,
        subject: String,
        body: String,
    },
    Http {
        name: String,
        method: String,
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        body: String,
    },
}

impl TryFrom<RawAction> for ActionSpec {
    type Error = String;

    fn try_from(raw: RawAction) -> Result<Self, String> {
        let (name, connector) = match raw {
            RawAction::Webhook {
                name,
                url,
                secret,
                body,
            } => (name, Connector::Webhook { url, secret, body }),
            RawAction::Slack {
                name,
                webhook_secret: Some(webhook_secret),
                url: None,
                text,
            } => (
                name,
                Connector::Slack {
                    webhook_secret,
                    text,
                },
            ),
            RawAction::Slack { name, .. } => {
                return Err(format!(
                    "action `{name}`: a Slack incoming-webhook URL is a credential; \
                     store it as a secret and name that secret in `webhook_secret:` (not `url:`)"
                ))
            }
            RawAction::Email {
                name,
                to,
                subject,
                body,
            } => (name, Connector::Email { to, subject, body }),
            RawAction::Http {
                name,
                method,
                url,
                headers,
                body,
            } => (
                name,
                Connector::Http {
                    method,
                    url,
                    headers,
                    body,
                },
            ),
        };
        Ok(ActionSpec { name, connector })
    }
}

impl From<ActionSpec> for RawAction {
    fn from(a: ActionSpec) -> Self {
        let name = a.name;
        match a.connector {
            Connector::Webhook { url, secret, body } => RawAction::Webhook {
                name,
                url,
                secret,
                body,
            },
            Connector::Slack {
                webhook_secret,
                text,
            } => RawAction::Slack {
                name,
                webhook_secret: Some(webhook_secret),
                url: None,
                text,
            },
            Connector::Email { to, subject, body } => RawAction::Email {
                name,
                to,
                subject,
                body,
            },
            Connector::Http {
                method,
                url,
                headers,
                body,
            } => RawAction::Http {
                name,
                method,
                url,
                headers,
                body,
            },
        }
    }
}

impl Connector {
    pub fn kind(&self) -> &'static str {
        match self {
            Connector::Webhook { .. } => "webhook",
            Connector::Slack { .. } => "slack",
            Connector::Email { .. } => "email",
            Connector::Http { .. } => "http",
        }
    }
}
