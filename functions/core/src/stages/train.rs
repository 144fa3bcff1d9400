//! The trainer: each workflow's classify tasks trained on the spec's
//! examples and the latest reviewer corrections, stored as a new model
//! version when that set changed. Runs off the request path (the review
//! function's schedule in AWS, a background loop in `handoff up`); the AI
//! step picks the new version up within its refresh interval.

use std::sync::Arc;

use serde::Serialize;

use handoff_spec::{Catalog, TaskKind};

use crate::domain::Feedback;
use crate::model::EmbeddedModel;
use crate::ports::{Clock, ModelMeta, RunStore};
use crate::stages::reason::FEEDBACK_WINDOW;
use crate::stages::StageError;

pub struct Train {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub model: Arc<EmbeddedModel>,
    pub clock: Arc<dyn Clock>,
}

/// What one pass did for one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trained {
    pub workflow: String,
    pub task: String,
    /// The version now newest: the new one, or the unchanged one.
    pub version: u64,
    /// False when the training set had not changed since that version.
    pub new: bool,
    pub examples: usize,
    pub corrections: usize,
}

impl Train {
    /// One pass over every workflow's classify tasks.
    pub async fn run(&self) -> Result<Vec<Trained>, StageError> {
        let mut done = Vec::new();
        for name in self.catalog.names() {
            let workflow = super::workflow(&self.catalog, name)?.clone();
            let feedback: Vec<Feedback> = self
                .store
                .list_feedback(name, FEEDBACK_WINDOW)
                .await?
                .into_iter()
                .filter(Feedback::teaches)
                .collect();
            for task in workflow.spec.reason.tasks() {
                let TaskKind::Classify(classify) = &task.kind else {
                    continue;
                };
                let set = self
                    .model
                    .training_set(&workflow, &task.name, classify, &feedback);
                let latest = self.store.latest_model(name, &task.name).await?;
                if let Some(latest) = latest.as_ref().filter(|m| m.training_digest == set.digest) {
                    done.push(Trained {
                        workflow: name.to_string(),
                        task: task.name.clone(),
                        version: latest.version,
                        new: false,
                        examples: latest.examples,
                        corrections: latest.corrections,
                    });
                    continue;
                }
                let model = self.model.clone();
                let training = set.clone();
                let started = std::time::Instant::now();
                let classifier = tokio::task::spawn_blocking(move || model.train(&training))
                    .await
                    .map_err(|e| StageError::Invalid(format!("training stopped: {e}")))?
                    .map_err(|e| StageError::Invalid(e.to_string()))?;
                let body = serde_json::to_vec(&classifier).expect("a classifier serialises");
                let now = self.clock.now();
                let meta = ModelMeta {
                    workflow: name.to_string(),
                    task: task.name.clone(),
                    // Milliseconds since the epoch, past the newest either way.
                    version: (now.timestamp_millis().max(0) as u64)
                        .max(latest.map_or(0, |m| m.version + 1)),
                    trained_at: now,
                    spec_digest: set.spec_digest,
                    training_digest: set.digest,
                    examples: set.examples.len(),
                    corrections: set.corrections,
                    model: self.model.model_name(),
                };
                self.store.put_model(&meta, &body).await?;
                tracing::info!(
                    workflow = name,
                    task = %task.name,
                    version = meta.version,
                    examples = meta.examples,
                    corrections = meta.corrections,
                    bytes = body.len(),
                    train_ms = started.elapsed().as_millis() as u64,
                    "model trained and stored"
                );
                done.push(Trained {
                    workflow: name.to_string(),
                    task: task.name.clone(),
                    version: meta.version,
                    new: true,
                    examples: meta.examples,
                    corrections: meta.corrections,
                });
            }
        }
        Ok(done)
    }
}
