//! `reason:`, an ordered list of named AI tasks. Each task's validated
//! result lands at `ai.<name>` for rules, templates, pages and later tasks.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

/// The tier every deployment has: classifier, pattern extractors and
/// extractive summaries, with no network and no tokens.
pub const EMBEDDED_TIER: &str = "embedded";

/// Names under `ai` that are not tasks.
pub const RESERVED_AI_NAMES: [&str; 2] = ["needs_review", "review_reasons"];

/// What an author of an old spec reads instead of a bare type error.
pub const OLD_REASON_SHAPE: &str = "`reason` is now an ordered list of AI tasks: \
move `labels` and `review_below` into `- {name: …, kind: classify}`, `extract` into a \
`kind: extract` task with `fields` (a JSON Schema subset), `draft` into a `kind: draft` \
task's `template`; rules then read `ai.<task>.label` and `ai.<task>.<field>`";

#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct ReasonSpec(pub Vec<TaskSpec>);

impl ReasonSpec {
    pub fn tasks(&self) -> &[TaskSpec] {
        &self.0
    }

    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.0.iter().find(|t| t.name == name)
    }

    /// The first classify task: what feedback, accuracy reviews and the
    /// approval page's relabel choice are about.
    pub fn primary(&self) -> Option<(&TaskSpec, &ClassifyTask)> {
        self.0.iter().find_map(|t| match &t.kind {
            TaskKind::Classify(c) => Some((t, c)),
            _ => None,
        })
    }
}

impl ReasonSpec {
    /// The primary classify task's label names.
    pub fn primary_labels(&self) -> Vec<String> {
        self.primary()
            .map(|(_, c)| c.labels.iter().map(|l| l.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The first draft task: the text a reviewer may edit before it goes out.
    pub fn first_draft(&self) -> Option<&TaskSpec> {
        self.0.iter().find(|t| matches!(t.kind, TaskKind::Draft(_)))
    }

    /// Names of the fields marked sensitive, at any depth of any extract task.
    pub fn sensitive_fields(&self) -> Vec<&str> {
        fn walk<'a>(fields: &'a BTreeMap<String, FieldSchema>, out: &mut Vec<&'a str>) {
            for (name, f) in fields {
                if f.sensitive {
                    out.push(name);
                }
                walk(&f.properties, out);
                if let Some(items) = &f.items {
                    walk(&items.properties, out);
                }
            }
        }
        let mut out = Vec::new();
        for task in &self.0 {
            if let TaskKind::Extract(e) = &task.kind {
                walk(&e.fields, &mut out);
            }
        }
        out
    }
}

impl<'de> Deserialize<'de> for ReasonSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Tasks;
        impl<'de> Visitor<'de> for Tasks {
            type Value = ReasonSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of AI tasks")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReasonSpec, A::Error> {
                let mut tasks = Vec::new();
                while let Some(task) = seq.next_element()? {
                    tasks.push(task);
                }
                Ok(ReasonSpec(tasks))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<ReasonSpec, A::Error> {
                Err(de::Error::custom(OLD_REASON_SHAPE))
            }
        }
        deserializer.deserialize_any(Tasks)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawTask", into = "RawTask")]
pub struct TaskSpec {
    pub name: String,
    /// CEL over `event`, `context` and the earlier tasks' `ai.*`; the task
    /// is skipped (no result at `ai.<name>`) when it yields false.
    pub when: Option<String>,
    /// The tiers asked, in order, by their configured names.
    pub models: Vec<String>,
    pub on_failure: TaskFailure,
    /// Characters of inbound text and context an LLM sees; more is cut, and
    /// the cut is audited.
    pub max_chars: usize,
    /// Sensitive fields reach providers as placeholders unless this is set.
    pub include_sensitive: bool,
    /// What the task is for, in the author's words, for the LLM tiers.
    pub instructions: Option<String>,
    /// How the LLM tiers see the run's documents.
    pub documents: DocumentView,
    pub kind: TaskKind,
}

/// How a task's LLM tiers see the run's documents (invoice PDFs, scans).
/// The embedded tier reads their text either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentView {
    /// Their text (the PDF's text layer, OCR) inside the prompt's data.
    #[default]
    Text,
    /// The text as well as the documents themselves: each PDF whole or as
    /// page images, each scan or photo as an image, for models that read
    /// them (tables, stamps, handwriting the text misses).
    Pages,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TaskKind {
    Classify(ClassifyTask),
    Extract(ExtractTask),
    Summarize(SummarizeTask),
    Draft(DraftTask),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    pub name: String,
    pub description: String,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyTask {
    pub labels: Vec<LabelSpec>,
    /// Below this confidence the AI does not guess: a person decides.
    pub review_below: f64,
    /// A tier at or above this confidence settles the task; later tiers are
    /// asked only below it. Defaults to `review_below`.
    pub accept_at: f64,
    /// When a label may act without a person: only while its error rate is
    /// proven low on reviewers' verdicts. Without it, rules alone decide.
    pub autonomy: Option<Autonomy>,
}

/// Earned autonomy: a label is auto-resolved only while the upper
/// confidence bound of its error rate stays at or below `target_error`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Autonomy {
    /// The error rate unreviewed answers may have, at most.
    pub target_error: f64,
    /// How sure the bound must be (one-sided).
    #[serde(default = "Autonomy::default_confidence")]
    pub confidence: f64,
    /// The share of runs acting alone that a reviewer labels blind anyway.
    #[serde(default = "Autonomy::default_audit_rate")]
    pub audit_rate: f64,
    /// Verdicts a label needs before it can be promoted at all.
    #[serde(default = "Autonomy::default_min_samples")]
    pub min_samples: usize,
}

impl Autonomy {
    fn default_confidence() -> f64 {
        0.95
    }
    fn default_audit_rate() -> f64 {
        0.05
    }
    fn default_min_samples() -> usize {
        200
    }

    fn check(&self, task: &str) -> Result<(), String> {
        let bad = |what: &str| Err(format!("task `{task}`: autonomy.{what}"));
        if !(self.target_error > 0.0 && self.target_error < 1.0) {
            return bad("target_error must be above 0 and below 1");
        }
        if !(self.confidence >= 0.5 && self.confidence < 1.0) {
            return bad("confidence must be at least 0.5 and below 1");
        }
        if !(0.0..=1.0).contains(&self.audit_rate) {
            return bad("audit_rate must be between 0 and 1");
        }
        if self.min_samples == 0 {
            return bad("min_samples must be at least 1");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExtractTask {
    pub fields: BTreeMap<String, FieldSchema>,
    /// Fields that must be filled, or the run goes to review.
    pub required: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SummarizeTask {
    pub max_words: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DraftTask {
    /// A minijinja template: the no-LLM draft and the fallback.
    pub template: Option<String>,
}

impl TaskKind {
    pub fn name(&self) -> &'static str {
        match self {
            TaskKind::Classify(_) => "classify",
            TaskKind::Extract(_) => "extract",
            TaskKind::Summarize(_) => "summarize",
            TaskKind::Draft(_) => "draft",
        }
    }
}

/// What happens when no tier gives a valid answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_yaml_ng::Value", into = "serde_yaml_ng::Value")]
pub enum TaskFailure {
    /// No result; the run goes to a person.
    Review,
    /// The kind's no-LLM answer: the embedded tier's, the extractive
    /// summary, the draft template.
    Fallback,
    /// This value stands as the result.
    Default(Value),
}

impl TryFrom<serde_yaml_ng::Value> for TaskFailure {
    type Error = String;

    fn try_from(value: serde_yaml_ng::Value) -> Result<Self, String> {
        use serde_yaml_ng::Value as Y;
        match value {
            Y::String(s) if s == "review" => Ok(TaskFailure::Review),
            Y::String(s) if s == "fallback" => Ok(TaskFailure::Fallback),
            Y::Mapping(map) if map.len() == 1 => {
                let (key, v) = map.into_iter().next().expect("one entry");
                if key.as_str() != Some("default") {
                    return Err("expected `review`, `fallback` or `{default: <value>}`".into());
                }
                let v: Value = serde_yaml_ng::from_value(v).map_err(|e| e.to_string())?;
                Ok(TaskFailure::Default(v))
            }
            _ => Err("expected `review`, `fallback` or `{default: <value>}`".into()),
        }
    }
}

impl From<TaskFailure> for serde_yaml_ng::Value {
    fn from(f: TaskFailure) -> Self {
        match f {
            TaskFailure::Review => "review".into(),
            TaskFailure::Fallback => "fallback".into(),
            TaskFailure::Default(v) => {
                let mut map = serde_yaml_ng::Mapping::new();
                map.insert(
                    "default".into(),
                    serde_yaml_ng::to_value(v).unwrap_or_default(),
                );
                serde_yaml_ng::Value::Mapping(map)
            }
        }
    }
}

// ---------------------------------------------------------------- fields

/// A JSON Schema subset: what every provider's structured output and the
/// local validator agree on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSchema {
    #[serde(rename = "type")]
    pub ty: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FieldFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Arrays: the schema of each item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<FieldSchema>>,
    /// Objects: their fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, FieldSchema>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// Personal data: a placeholder for providers unless the task opts in,
    /// masked in logs and on the read side.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// Which embedded pattern extractor fills this field, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded: Option<Pattern>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldFormat {
    Date,
    Email,
}

/// The embedded extractors: what regexes and parsers find reliably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    Email,
    /// A number field gets the amount; an object field `{value, currency}`.
    Money,
    OrderId,
    InvoiceId,
    PoId,
    Date,
    /// An invoice table's rows, for an array field: each
    /// `{description, quantity, unit_price, total}`.
    LineItems,
}

impl FieldSchema {
    /// Standard JSON Schema, as sent to providers and checked locally.
    pub fn json_schema(&self) -> Value {
        let mut s = Map::new();
        let ty = match self.ty {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Array => "array",
            FieldType::Object => "object",
        };
        s.insert("type".into(), json!(ty));
        if let Some(d) = &self.description {
            s.insert("description".into(), json!(d));
        }
        if let Some(values) = &self.one_of {
            s.insert("enum".into(), json!(values));
        }
        if let Some(f) = self.format {
            let f = match f {
                FieldFormat::Date => "date",
                FieldFormat::Email => "email",
            };
            s.insert("format".into(), json!(f));
        }
        if let Some(m) = self.minimum {
            s.insert("minimum".into(), json!(m));
        }
        if let Some(m) = self.maximum {
            s.insert("maximum".into(), json!(m));
        }
        if let Some(items) = &self.items {
            s.insert("items".into(), items.json_schema());
        }
        if self.ty == FieldType::Object {
            s.insert("properties".into(), properties_schema(&self.properties));
            s.insert("required".into(), json!(self.required));
            s.insert("additionalProperties".into(), json!(false));
        }
        Value::Object(s)
    }

    /// Dotted paths of the sensitive fields below this one.
    pub fn sensitive_paths(&self, at: &str, out: &mut Vec<String>) {
        if self.sensitive {
            out.push(at.to_string());
        }
        for (name, field) in &self.properties {
            field.sensitive_paths(&format!("{at}.{name}"), out);
        }
        if let Some(items) = &self.items {
            items.sensitive_paths(&format!("{at}[]"), out);
        }
    }
}

fn properties_schema(fields: &BTreeMap<String, FieldSchema>) -> Value {
    fields
        .iter()
        .map(|(name, f)| (name.clone(), f.json_schema()))
        .collect::<Map<_, _>>()
        .into()
}

impl ExtractTask {
    /// The answer object's schema: the fields, none but them.
    pub fn json_schema(&self) -> Value {
        json!({
            "type": "object",
            "properties": properties_schema(&self.fields),
            "required": self.required,
            "additionalProperties": false,
        })
    }
}

impl ClassifyTask {
    pub fn json_schema(&self) -> Value {
        let labels: Vec<&str> = self.labels.iter().map(|l| l.name.as_str()).collect();
        json!({
            "type": "object",
            "properties": {
                "label": { "type": "string", "enum": labels },
                "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
                "rationale": { "type": "string" },
            },
            "required": ["label", "confidence", "rationale"],
            "additionalProperties": false,
        })
    }
}

/// Summaries and drafts answer `{text}`.
pub fn text_answer_schema() -> Value {
    json!({
        "type": "object",
        "properties": { "text": { "type": "string", "minLength": 1 } },
        "required": ["text"],
        "additionalProperties": false,
    })
}

impl TaskSpec {
    /// The schema an answer from any tier must meet before it is used.
    pub fn answer_schema(&self) -> Value {
        match &self.kind {
            TaskKind::Classify(c) => c.json_schema(),
            TaskKind::Extract(e) => e.json_schema(),
            TaskKind::Summarize(_) | TaskKind::Draft(_) => text_answer_schema(),
        }
    }
}

// ---------------------------------------------------------------- YAML form

/// The YAML form: one flat map; the keys a kind does not take are refused
/// by name in [`TryFrom`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: String,
    kind: RawKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_failure: Option<TaskFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_chars: Option<usize>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    include_sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    documents: Option<DocumentView>,
    // classify
    #[serde(default, skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<LabelSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    review_below: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accept_at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    autonomy: Option<Autonomy>,
    // extract
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<String, FieldSchema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    required: Option<Vec<String>>,
    // summarize
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_words: Option<usize>,
    // draft
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<String>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Classify,
    Extract,
    Summarize,
    Draft,
}

const DEFAULT_MAX_CHARS: usize = 8_000;
const DEFAULT_REVIEW_BELOW: f64 = 0.5;
const DEFAULT_MAX_WORDS: usize = 60;

impl TryFrom<RawTask> for TaskSpec {
    type Error = String;

    fn try_from(raw: RawTask) -> Result<Self, String> {
        let kind_name = match raw.kind {
            RawKind::Classify => "classify",
            RawKind::Extract => "extract",
            RawKind::Summarize => "summarize",
            RawKind::Draft => "draft",
        };
        let takes: &[&str] = match raw.kind {
            RawKind::Classify => &["labels", "review_below", "accept_at", "autonomy"],
            RawKind::Extract => &["fields", "required"],
            RawKind::Summarize => &["max_words"],
            RawKind::Draft => &["template"],
        };
        let given = [
            ("labels", raw.labels.is_some()),
            ("review_below", raw.review_below.is_some()),
            ("accept_at", raw.accept_at.is_some()),
            ("autonomy", raw.autonomy.is_some()),
            ("fields", raw.fields.is_some()),
            ("required", raw.required.is_some()),
            ("max_words", raw.max_words.is_some()),
            ("template", raw.template.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(k, set)| *set && !takes.contains(k)) {
            return Err(format!(
                "task `{}`: `{key}` does not apply to a {kind_name} task (it takes {})",
                raw.name,
                takes.join(", ")
            ));
        }
        let kind = match raw.kind {
            RawKind::Classify => {
                let review_below = raw.review_below.unwrap_or(DEFAULT_REVIEW_BELOW);
                if let Some(autonomy) = &raw.autonomy {
                    autonomy.check(&raw.name)?;
                }
                TaskKind::Classify(ClassifyTask {
                    labels: raw.labels.ok_or_else(|| {
                        format!("task `{}`: a classify task needs `labels`", raw.name)
                    })?,
                    review_below,
                    accept_at: raw.accept_at.unwrap_or(review_below),
                    autonomy: raw.autonomy,
                })
            }
            RawKind::Extract => TaskKind::Extract(ExtractTask {
                fields: raw.fields.ok_or_else(|| {
                    format!("task `{}`: an extract task needs `fields`", raw.name)
                })?,
                required: raw.required.unwrap_or_default(),
            }),
            RawKind::Summarize => TaskKind::Summarize(SummarizeTask {
                max_words: raw.max_words.unwrap_or(DEFAULT_MAX_WORDS),
            }),
            RawKind::Draft => TaskKind::Draft(DraftTask {
                template: raw.template,
            }),
        };
        let default_models = match &kind {
            TaskKind::Draft(_) => vec![],
            _ => vec![EMBEDDED_TIER.to_string()],
        };
        let default_failure = match &kind {
            TaskKind::Classify(_) | TaskKind::Extract(_) => TaskFailure::Review,
            TaskKind::Summarize(_) | TaskKind::Draft(_) => TaskFailure::Fallback,
        };
        Ok(TaskSpec {
            name: raw.name,
            when: raw.when,
            models: raw.models.unwrap_or(default_models),
            on_failure: raw.on_failure.unwrap_or(default_failure),
            max_chars: raw.max_chars.unwrap_or(DEFAULT_MAX_CHARS),
            include_sensitive: raw.include_sensitive,
            instructions: raw.instructions,
            documents: raw.documents.unwrap_or_default(),
            kind,
        })
    }
}

impl From<TaskSpec> for RawTask {
    fn from(t: TaskSpec) -> Self {
        let mut raw = RawTask {
            name: t.name,
            kind: RawKind::Draft,
            when: t.when,
            models: Some(t.models),
            on_failure: Some(t.on_failure),
            max_chars: Some(t.max_chars),
            include_sensitive: t.include_sensitive,
            instructions: t.instructions,
            // Only when set, so a spec that never set it serialises as before.
            documents: (t.documents != DocumentView::Text).then_some(t.documents),
            labels: None,
            review_below: None,
            accept_at: None,
            autonomy: None,
            fields: None,
            required: None,
            max_words: None,
            template: None,
        };
        match t.kind {
            TaskKind::Classify(c) => {
                raw.kind = RawKind::Classify;
                raw.labels = Some(c.labels);
                raw.review_below = Some(c.review_below);
                raw.accept_at = Some(c.accept_at);
                raw.autonomy = c.autonomy;
            }
            TaskKind::Extract(e) => {
                raw.kind = RawKind::Extract;
                raw.fields = Some(e.fields);
                raw.required = Some(e.required);
            }
            TaskKind::Summarize(s) => {
                raw.kind = RawKind::Summarize;
                raw.max_words = Some(s.max_words);
            }
            TaskKind::Draft(d) => raw.template = d.template,
        }
        raw
    }
}
