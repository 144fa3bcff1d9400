//! The shape of `workflows/<name>.yaml`. Unknown keys are errors: a typo in a
//! spec must not silently turn a rule or a policy off.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    pub rules: Vec<RuleSpec>,
    #[serde(default)]
    pub approval: Option<ApprovalSpec>,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
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
    #[serde(default)]
    pub lookups: Vec<LookupSpec>,
}

impl Default for ContextSpec {
    fn default() -> Self {
        Self {
            max_bytes: default_context_bytes(),
            lookups: Vec::new(),
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
    },
    /// A table shipped with the workflow, keyed by a canonical field.
    Static {
        name: String,
        key_field: String,
        table: BTreeMap<String, serde_json::Value>,
        #[serde(default)]
        default: Option<serde_json::Value>,
    },
}

impl LookupSpec {
    pub fn name(&self) -> &str {
        match self {
            LookupSpec::PriorRuns { name, .. } | LookupSpec::Static { name, .. } => name,
        }
    }
}

fn default_prior_runs() -> usize {
    5
}

// ---------------------------------------------------------------- reason

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonSpec {
    pub labels: Vec<LabelSpec>,
    #[serde(default)]
    pub extract: Vec<ExtractSpec>,
    /// A minijinja template over `event`, `ai` and `context`.
    #[serde(default)]
    pub draft: Option<String>,
    /// Below this confidence the AI step does not guess: a person decides.
    #[serde(default = "default_review_below")]
    pub review_below: f64,
}

fn default_review_below() -> f64 {
    0.5
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSpec {
    pub name: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// Personal data: logs and metrics show it only redacted.
    #[serde(default)]
    pub sensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Email,
    Money,
    OrderId,
    InvoiceId,
    PoId,
    Date,
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

// ---------------------------------------------------------------- actions

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "RawAction", into = "RawAction")]
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
    Slack {
        url: String,
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
        url: String,
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

impl From<RawAction> for ActionSpec {
    fn from(raw: RawAction) -> Self {
        let (name, connector) = match raw {
            RawAction::Webhook {
                name,
                url,
                secret,
                body,
            } => (name, Connector::Webhook { url, secret, body }),
            RawAction::Slack { name, url, text } => (name, Connector::Slack { url, text }),
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
        ActionSpec { name, connector }
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
            Connector::Slack { url, text } => RawAction::Slack { name, url, text },
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
