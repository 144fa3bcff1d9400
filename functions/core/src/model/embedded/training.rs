//! What a task's classifier learns from, and the training itself: one code
//! path for the trainer (off the request path) and for the AI step when it
//! has no stored model that fits.

use handoff_embedded::{Classifier, Example};
use handoff_spec::{ClassifyTask, Workflow};
use sha2::{Digest, Sha256};

use super::EmbeddedModel;
use crate::domain::Feedback;
use crate::ports::ModelError;

/// A task's training examples and what identifies them.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// Each label's description and examples from the spec, then the
    /// corrections.
    pub examples: Vec<Example>,
    /// How many of `examples` are reviewers' corrections.
    pub corrections: usize,
    /// Of the spec's examples alone: a stored model with another one was
    /// trained for other labels or examples.
    pub spec_digest: String,
    /// Of all the examples and the model kind: unchanged means retraining
    /// would give the same model.
    pub digest: String,
}

impl EmbeddedModel {
    /// The spec's examples of `task` (a label's description counts as one),
    /// plus the corrections naming one of its labels when `task` is the
    /// workflow's primary classify task, the one reviewers correct.
    pub fn training_set(
        &self,
        workflow: &Workflow,
        task_name: &str,
        task: &ClassifyTask,
        feedback: &[Feedback],
    ) -> TrainingSet {
        let mut examples: Vec<Example> = task
            .labels
            .iter()
            .flat_map(|l| {
                std::iter::once(Example::new(&l.description, &l.name))
                    .chain(l.examples.iter().map(|e| Example::new(e, &l.name)))
            })
            .collect();
        let spec_digest = digest_of("", &examples);
        let primary = workflow
            .spec
            .reason
            .primary()
            .is_some_and(|(t, _)| t.name == task_name);
        let before = examples.len();
        if primary {
            examples.extend(
                feedback
                    .iter()
                    .filter(|f| task.labels.iter().any(|l| l.name == f.final_label))
                    .map(|f| Example::new(&f.text, &f.final_label)),
            );
        }
        TrainingSet {
            corrections: examples.len() - before,
            digest: digest_of(&self.model_name(), &examples),
            spec_digest,
            examples,
        }
    }

    /// Trains on `set`, with sentence embeddings when the encoder is loaded
    /// (each text is embedded once per process). CPU-bound: seconds on
    /// thousands of examples.
    pub fn train(&self, set: &TrainingSet) -> Result<Classifier, ModelError> {
        let embeddings = self.embeddings(&set.examples)?;
        let weights = vec![1.0; set.examples.len()];
        Classifier::train_with(&set.examples, embeddings.as_deref(), &weights, &self.config)
            .map_err(|e| ModelError::Unavailable(e.to_string()))
    }
}

fn digest_of(kind: &str, examples: &[Example]) -> String {
    let mut hash = Sha256::new();
    hash.update(kind.as_bytes());
    for e in examples {
        // Lengths first: no two different sets hash the same bytes.
        for part in [&e.text, &e.label] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
    }
    hex::encode(hash.finalize())
}
