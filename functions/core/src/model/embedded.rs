use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use handoff_embedded::{Classifier, Example, Extractor, FieldValue, TrainConfig};
use handoff_spec::{FieldKind, Workflow};
use serde_json::{json, Value};

use crate::ports::{Model, ModelAnswer, ModelError, ModelRequest};

/// Trains on the spec's examples plus reviewer corrections, once per
/// workflow and feedback set, and answers in microseconds.
pub struct EmbeddedModel {
    extractor: Extractor,
    config: TrainConfig,
    trained: Mutex<HashMap<String, (u64, Arc<Classifier>)>>,
}

impl Default for EmbeddedModel {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbeddedModel {
    pub fn new() -> Self {
        Self {
            extractor: Extractor::new(&Default::default())
                .expect("default extraction patterns compile"),
            config: TrainConfig {
                threads: 1,
                ..TrainConfig::default()
            },
            trained: Mutex::new(HashMap::new()),
        }
    }

    fn classifier(&self, request: &ModelRequest<'_>) -> Result<Arc<Classifier>, ModelError> {
        let workflow = request.workflow;
        let fingerprint = feedback_fingerprint(request);
        if let Some((seen, c)) = self.trained.lock().unwrap().get(workflow.name()) {
            if *seen == fingerprint {
                return Ok(c.clone());
            }
        }
        let labels: Vec<&str> = workflow
            .spec
            .reason
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        let mut examples: Vec<Example> = workflow
            .spec
            .reason
            .labels
            .iter()
            .flat_map(|l| {
                std::iter::once(Example::new(&l.description, &l.name))
                    .chain(l.examples.iter().map(|e| Example::new(e, &l.name)))
            })
            .collect();
        examples.extend(
            request
                .feedback
                .iter()
                .filter(|f| labels.contains(&f.final_label.as_str()))
                .map(|f| Example::new(&f.text, &f.final_label)),
        );
        let classifier = Arc::new(
            Classifier::train(&examples, &self.config)
                .map_err(|e| ModelError::Unavailable(e.to_string()))?,
        );
        self.trained.lock().unwrap().insert(
            workflow.name().to_string(),
            (fingerprint, classifier.clone()),
        );
        Ok(classifier)
    }

    fn extract(&self, workflow: &Workflow, text: &str) -> BTreeMap<String, Value> {
        let found = self.extractor.extract(text);
        let mut fields = BTreeMap::new();
        for wanted in &workflow.spec.reason.extract {
            let hit = found.iter().find(|f| kind_matches(wanted.kind, &f.value));
            if let Some(field) = hit {
                fields.insert(wanted.name.clone(), field_json(&field.value));
            }
        }
        fields
    }
}

fn feedback_fingerprint(request: &ModelRequest<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in request.feedback {
        f.run_id.hash(&mut h);
        f.final_label.hash(&mut h);
    }
    h.finish()
}

fn kind_matches(kind: FieldKind, value: &FieldValue) -> bool {
    use handoff_embedded::extract::IdKind;
    matches!(
        (kind, value),
        (FieldKind::Email, FieldValue::Email(_))
            | (FieldKind::Money, FieldValue::Money(_))
            | (FieldKind::Date, FieldValue::Date(_))
            | (
                FieldKind::OrderId,
                FieldValue::Id {
                    kind: IdKind::Order,
                    ..
                }
            )
            | (
                FieldKind::InvoiceId,
                FieldValue::Id {
                    kind: IdKind::Invoice,
                    ..
                }
            )
            | (
                FieldKind::PoId,
                FieldValue::Id {
                    kind: IdKind::PurchaseOrder,
                    ..
                }
            )
    )
}

/// Rules read `ai.fields.amount.value`; ids and e-mails are plain strings.
fn field_json(value: &FieldValue) -> Value {
    match value {
        FieldValue::Email(e) => json!(e),
        FieldValue::Id { id, .. } => json!(id),
        FieldValue::Money(m) => json!({ "value": m.cents as f64 / 100.0, "currency": m.currency }),
        FieldValue::Date(d) => serde_json::to_value(d).unwrap_or(Value::Null),
    }
}

#[async_trait]
impl Model for EmbeddedModel {
    async fn infer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
        let classifier = self.classifier(request)?;
        let prediction = classifier.classify(request.text);
        let runner_up = prediction
            .ranked
            .get(1)
            .map(|r| r.label.as_str())
            .unwrap_or("-");
        Ok(ModelAnswer {
            label: prediction.label.clone(),
            confidence: f64::from(prediction.confidence),
            rationale: format!(
                "closest to the `{}` examples (runner-up `{runner_up}`)",
                prediction.label
            ),
            fields: self.extract(request.workflow, request.text),
            tier: "embedded".into(),
            usage: None,
        })
    }
}
