mod stored;
mod training;

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use handoff_embedded::encoder::{self, Availability, EmbeddingTable};
use handoff_embedded::extract::{line_items, Field, IdKind, LineItem};
use handoff_embedded::{Example, Extractor, FieldValue, TrainConfig};
use handoff_spec::{ClassifyTask, ExtractTask, FieldSchema, FieldType, Pattern, TaskKind};
use serde_json::{json, Map, Value};

use crate::ports::{Model, ModelAnswer, ModelError, ModelRequest};

pub use training::TrainingSet;

/// The tier every deployment has: per classify task a linear classifier on
/// n-grams and sentence embeddings, pattern extractors, and extractive
/// summaries. Answers in milliseconds, and nothing leaves the process.
///
/// The classifier comes from the model store when the request names one:
/// the trainer's newest model for the task, loaded once and looked for
/// again every `refresh`; until one is stored for the spec as it is, one
/// trained here on the spec's own examples (fast: no corrections). Without
/// a store (tests, `handoff eval`) it trains here on the spec's examples
/// and the request's corrections, once per set.
///
/// Without the sentence encoder (its files absent, or turned off) it
/// classifies on n-grams alone and says so in every answer's note, which
/// the run's audit trail keeps.
pub struct EmbeddedModel {
    extractor: Extractor,
    config: TrainConfig,
    encoder: Availability,
    /// How long a stored model is used before the store is asked for a
    /// newer one.
    pub refresh: Duration,
    /// Held while a classifier is looked up, loaded or trained: runs that
    /// arrive together wait for one load instead of each doing it.
    classifiers: tokio::sync::Mutex<stored::Classifiers>,
    /// Embeddings of the training texts seen so far: a retrain after a
    /// correction embeds only the new text.
    embedded: Mutex<EmbeddingTable>,
}

/// How often the AI step looks for a newer stored model.
pub const MODEL_REFRESH: Duration = Duration::from_secs(60);

impl Default for EmbeddedModel {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedModel {
    /// With the process's encoder ([`encoder::shared`]), if it has one.
    pub fn new() -> Self {
        Self::with_encoder(encoder::shared().clone())
    }

    pub fn with_encoder(encoder: Availability) -> Self {
        Self {
            extractor: Extractor::new(&Default::default())
                .expect("default extraction patterns compile"),
            config: TrainConfig {
                threads: 1,
                ..TrainConfig::default()
            },
            encoder,
            refresh: MODEL_REFRESH,
            classifiers: Default::default(),
            embedded: Mutex::new(EmbeddingTable::default()),
        }
    }

    /// The model the answers name: the encoder's too when it is used.
    pub fn model_name(&self) -> String {
        match &self.encoder {
            Availability::Loaded(_) => format!("embedded/ngrams+{}", encoder::MODEL_NAME),
            Availability::Absent(_) => "embedded/ngrams".into(),
        }
    }

    /// Embeddings of `examples`, with the encoder; `None` without it.
    fn embeddings(&self, examples: &[Example]) -> Result<Option<Vec<Vec<f32>>>, ModelError> {
        let Some(encoder) = self.encoder.encoder() else {
            return Ok(None);
        };
        let mut table = self.embedded.lock().unwrap();
        table
            .add(encoder, examples.iter().map(|e| e.text.as_str()), |_, _| ())
            .map_err(|e| ModelError::Unavailable(e.to_string()))?;
        Ok(table.of_examples(examples))
    }

    /// The label, its confidence and a rationale; and where the classifier
    /// came from when that is worth auditing.
    async fn classify(
        &self,
        request: &ModelRequest<'_>,
        task: &ClassifyTask,
    ) -> Result<(Value, Option<String>), ModelError> {
        let (classifier, source) = self.classifier(request, task).await?;
        let embedding = match self.encoder.encoder() {
            Some(encoder) if classifier.uses_embeddings() => Some(
                encoder
                    .embed(request.text)
                    .map_err(|e| ModelError::Unavailable(e.to_string()))?,
            ),
            _ => None,
        };
        let prediction = classifier.classify_with(request.text, embedding.as_deref());
        let runner_up = prediction
            .ranked
            .get(1)
            .map(|r| r.label.as_str())
            .unwrap_or("-");
        let value = json!({
            "label": prediction.label,
            "confidence": f64::from(prediction.confidence),
            "rationale": format!(
                "closest to the `{}` examples (runner-up `{runner_up}`)",
                prediction.label
            ),
        });
        Ok((value, source))
    }

    /// Fills the fields that name a pattern; the rest is left to later tiers.
    fn extract(&self, text: &str, task: &ExtractTask) -> Value {
        let found = self.extractor.extract(text);
        let mut fields = Map::new();
        for (name, schema) in &task.fields {
            let Some(pattern) = schema.embedded else {
                continue;
            };
            if pattern == Pattern::LineItems {
                let items = line_items(text);
                if !items.is_empty() {
                    fields.insert(name.clone(), items.iter().map(line_item_json).collect());
                }
                continue;
            }
            let candidates = found.iter().filter(|f| pattern_matches(pattern, &f.value));
            if let Some(field) = labelled(text, name, pattern, candidates) {
                fields.insert(name.clone(), field_json(schema, &field.value));
            }
        }
        Value::Object(fields)
    }
}

/// The candidate whose line names the field, else the first. On an invoice
/// the first amount is a line's or the subtotal and the first date the
/// issue date: `Total due EUR 1,250.00` and `Due date 2026-02-14` are the
/// ones `amount` and `due_date` mean. A label counts as whole words before
/// the match on its line (`Subtotal` is not `total`). A tax field is the
/// exception: only an amount on a line naming the tax (`VAT 19%`,
/// `Sales tax`, `MwSt`, `GST`) is one, since the first amount, or the
/// total, read as the tax would be a wrong figure where "not stated" is
/// the truth.
fn labelled<'f>(
    text: &str,
    name: &str,
    pattern: Pattern,
    candidates: impl Iterator<Item = &'f Field>,
) -> Option<&'f Field> {
    let mut label: Vec<&str> = name.split('_').filter(|w| !w.is_empty()).collect();
    let is_tax = label
        .iter()
        .any(|w| TAX_WORDS.iter().any(|t| w.eq_ignore_ascii_case(t)));
    if is_tax {
        label.extend(TAX_WORDS);
    } else if pattern == Pattern::Money {
        label.push("total");
    }
    let score = |field: &Field| {
        let line_start = text[..field.start].rfind('\n').map_or(0, |i| i + 1);
        text[line_start..field.start]
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| label.iter().any(|l| w.eq_ignore_ascii_case(l)))
            .count()
    };
    let mut best: Option<(&Field, usize)> = None;
    for field in candidates {
        let s = score(field);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((field, s));
        }
    }
    best.filter(|(_, s)| !is_tax || *s > 0)
        .map(|(field, _)| field)
}

/// How invoices name their tax line.
const TAX_WORDS: [&str; 4] = ["tax", "vat", "gst", "mwst"];

/// Loads the process's sentence encoder now (a Lambda's init, `handoff
/// up`'s start) rather than on the first message, and logs where it came
/// from or why there is none.
pub fn load_encoder() {
    let started = std::time::Instant::now();
    match encoder::shared() {
        Availability::Loaded(_) => tracing::info!(
            model = encoder::MODEL_NAME,
            load_ms = started.elapsed().as_millis() as u64,
            "sentence encoder loaded"
        ),
        Availability::Absent(why) => tracing::warn!(
            reason = %why,
            "no sentence encoder: the embedded tier classifies on n-grams alone"
        ),
    }
}

/// Whether a value the extractors found is of the kind a pattern names.
pub(super) fn pattern_matches(pattern: Pattern, value: &FieldValue) -> bool {
    matches!(
        (pattern, value),
        (Pattern::Email, FieldValue::Email(_))
            | (Pattern::Money, FieldValue::Money(_))
            | (Pattern::Date, FieldValue::Date(_))
            | (
                Pattern::OrderId,
                FieldValue::Id {
                    kind: IdKind::Order,
                    ..
                }
            )
            | (
                Pattern::InvoiceId,
                FieldValue::Id {
                    kind: IdKind::Invoice,
                    ..
                }
            )
            | (
                Pattern::PoId,
                FieldValue::Id {
                    kind: IdKind::PurchaseOrder,
                    ..
                }
            )
    )
}

/// A table row as the invoice task's `line_items` items: amounts as numbers.
fn line_item_json(item: &LineItem) -> Value {
    let mut row = json!({
        "description": item.description,
        "unit_price": item.unit_price_cents as f64 / 100.0,
        "total": item.total_cents as f64 / 100.0,
    });
    if let Some(quantity) = item.quantity {
        row["quantity"] = json!(quantity);
    }
    row
}

/// Money fills a number with the amount, an object with `{value, currency}`.
fn field_json(schema: &FieldSchema, value: &FieldValue) -> Value {
    match value {
        FieldValue::Email(e) => json!(e),
        FieldValue::Id { id, .. } => json!(id),
        FieldValue::Money(m) if schema.ty == FieldType::Number => json!(m.cents as f64 / 100.0),
        FieldValue::Money(m) => json!({ "value": m.cents as f64 / 100.0, "currency": m.currency }),
        FieldValue::Date(d) => serde_json::to_value(d).unwrap_or(Value::Null),
    }
}

#[async_trait]
impl Model for EmbeddedModel {
    async fn answer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
        let mut notes = Vec::new();
        let value = match &request.task.kind {
            TaskKind::Classify(task) => {
                let (value, source) = self.classify(request, task).await?;
                if let Availability::Absent(why) = &self.encoder {
                    notes.push(format!(
                        "{why}; classified by the weights-free n-gram model"
                    ));
                }
                notes.extend(source);
                value
            }
            TaskKind::Extract(task) => self.extract(request.text, task),
            TaskKind::Summarize(task) => {
                json!({ "text": handoff_embedded::summarize(request.text, task.max_words) })
            }
            TaskKind::Draft(_) => {
                return Err(ModelError::Unsupported(
                    "the embedded tier writes no drafts".into(),
                ))
            }
        };
        Ok(ModelAnswer {
            value,
            usage: None,
            model: self.model_name(),
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        })
    }
}
