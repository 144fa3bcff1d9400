use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use handoff_embedded::encoder::{self, Availability, EmbeddingTable};
use handoff_embedded::extract::IdKind;
use handoff_embedded::{Classifier, Example, Extractor, FieldValue, TrainConfig};
use handoff_spec::{
    ClassifyTask, ExtractTask, FieldSchema, FieldType, Pattern, TaskKind, Workflow,
};
use serde_json::{json, Map, Value};

use crate::ports::{Model, ModelAnswer, ModelError, ModelRequest};

/// The tier every deployment has: a classifier trained on the spec's
/// examples plus reviewer corrections (once per task and feedback set) on
/// n-grams and sentence embeddings, pattern extractors, and extractive
/// summaries. Answers in milliseconds, and nothing leaves the process.
///
/// Without the sentence encoder (its files absent, or turned off) it
/// classifies on n-grams alone and says so in every answer's note, which
/// the run's audit trail keeps.
pub struct EmbeddedModel {
    extractor: Extractor,
    config: TrainConfig,
    encoder: Availability,
    /// Held while a classifier is looked up or trained: runs that arrive
    /// together wait for one training instead of each doing it.
    training: Mutex<()>,
    trained: Mutex<Trained>,
    /// Embeddings of the training texts seen so far: a retrain after a
    /// correction embeds only the new text.
    embedded: Mutex<EmbeddingTable>,
}

/// (workflow, task) → (feedback fingerprint, classifier)
type Trained = HashMap<(String, String), (u64, Arc<Classifier>)>;

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
            training: Mutex::new(()),
            trained: Mutex::new(HashMap::new()),
            embedded: Mutex::new(EmbeddingTable::default()),
        }
    }

    /// The model the answers name: the encoder's too when it is used.
    fn model_name(&self) -> String {
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

    fn classifier(
        &self,
        request: &ModelRequest<'_>,
        task: &ClassifyTask,
    ) -> Result<Arc<Classifier>, ModelError> {
        let key = (
            request.workflow.name().to_string(),
            request.task.name.clone(),
        );
        // Corrections are about the workflow's first classify task.
        let feedback = if is_primary(request.workflow, &request.task.name) {
            request.feedback
        } else {
            &[]
        };
        let fingerprint = feedback_fingerprint(feedback);
        let _one_training = self.training.lock().unwrap();
        if let Some((seen, c)) = self.trained.lock().unwrap().get(&key) {
            if *seen == fingerprint {
                return Ok(c.clone());
            }
        }
        let labels: Vec<&str> = task.labels.iter().map(|l| l.name.as_str()).collect();
        let mut examples: Vec<Example> = task
            .labels
            .iter()
            .flat_map(|l| {
                std::iter::once(Example::new(&l.description, &l.name))
                    .chain(l.examples.iter().map(|e| Example::new(e, &l.name)))
            })
            .collect();
        examples.extend(
            feedback
                .iter()
                .filter(|f| labels.contains(&f.final_label.as_str()))
                .map(|f| Example::new(&f.text, &f.final_label)),
        );
        let embeddings = self.embeddings(&examples)?;
        let weights = vec![1.0; examples.len()];
        let classifier = Arc::new(
            Classifier::train_with(&examples, embeddings.as_deref(), &weights, &self.config)
                .map_err(|e| ModelError::Unavailable(e.to_string()))?,
        );
        self.trained
            .lock()
            .unwrap()
            .insert(key, (fingerprint, classifier.clone()));
        Ok(classifier)
    }

    fn classify(
        &self,
        request: &ModelRequest<'_>,
        task: &ClassifyTask,
    ) -> Result<Value, ModelError> {
        let classifier = self.classifier(request, task)?;
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
        Ok(json!({
            "label": prediction.label,
            "confidence": f64::from(prediction.confidence),
            "rationale": format!(
                "closest to the `{}` examples (runner-up `{runner_up}`)",
                prediction.label
            ),
        }))
    }

    /// Fills the fields that name a pattern; the rest is left to later tiers.
    fn extract(&self, text: &str, task: &ExtractTask) -> Value {
        let found = self.extractor.extract(text);
        let mut fields = Map::new();
        for (name, schema) in &task.fields {
            let Some(pattern) = schema.embedded else {
                continue;
            };
            if let Some(field) = found.iter().find(|f| pattern_matches(pattern, &f.value)) {
                fields.insert(name.clone(), field_json(schema, &field.value));
            }
        }
        Value::Object(fields)
    }
}

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

fn is_primary(workflow: &Workflow, task: &str) -> bool {
    workflow
        .spec
        .reason
        .primary()
        .is_some_and(|(t, _)| t.name == task)
}

fn feedback_fingerprint(feedback: &[crate::domain::Feedback]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in feedback {
        f.run_id.hash(&mut h);
        f.final_label.hash(&mut h);
    }
    h.finish()
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
        let value = match &request.task.kind {
            TaskKind::Classify(task) => self.classify(request, task)?,
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
        let note = match (&self.encoder, &request.task.kind) {
            (Availability::Absent(why), TaskKind::Classify(_)) => Some(format!(
                "{why}; classified by the weights-free n-gram model"
            )),
            _ => None,
        };
        Ok(ModelAnswer {
            value,
            usage: None,
            model: self.model_name(),
            note,
        })
    }
}
