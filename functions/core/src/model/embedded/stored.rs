//! Where the AI step's classifier comes from: the model store's newest
//! model for the task when it fits the spec and this process's model kind,
//! else one trained here on what is at hand.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use handoff_embedded::Classifier;
use handoff_spec::ClassifyTask;

use super::{EmbeddedModel, TrainingSet};
use crate::ports::{ModelArtifacts, ModelError, ModelMeta, ModelRequest};

/// (workflow, task) → the classifier in use.
pub(super) type Classifiers = HashMap<(String, String), InUse>;

pub(super) struct InUse {
    classifier: Arc<Classifier>,
    source: Source,
    /// When the store was last asked for a newer model.
    checked: Instant,
}

enum Source {
    Stored(ModelMeta),
    /// Trained here; the set's digest.
    Here {
        digest: String,
        note: Option<String>,
    },
}

impl Source {
    fn note(&self) -> Option<String> {
        match self {
            Source::Stored(m) => Some(format!(
                "classifier v{} trained {} on {} examples ({} corrections)",
                m.version,
                m.trained_at.format("%Y-%m-%dT%H:%M:%SZ"),
                m.examples,
                m.corrections
            )),
            Source::Here { note, .. } => note.clone(),
        }
    }
}

impl EmbeddedModel {
    /// The task's classifier and, when worth auditing, where it came from.
    pub(super) async fn classifier(
        &self,
        request: &ModelRequest<'_>,
        task: &ClassifyTask,
    ) -> Result<(Arc<Classifier>, Option<String>), ModelError> {
        let key = (
            request.workflow.name().to_string(),
            request.task.name.clone(),
        );
        let mut classifiers = self.classifiers.lock().await;
        let Some(store) = request.models else {
            let set = self.training_set(request.workflow, &key.1, task, request.feedback);
            return self.trained_here(&mut classifiers, key, set, None);
        };
        if let Some(in_use) = classifiers.get(&key) {
            if in_use.checked.elapsed() < self.refresh {
                return Ok((in_use.classifier.clone(), in_use.source.note()));
            }
        }
        let spec_only = self.training_set(request.workflow, &key.1, task, &[]);
        let why = match self
            .stored(store, &key, &spec_only, classifiers.get(&key))
            .await
        {
            Ok(Some(stored)) => {
                let note = stored.source.note();
                let classifier = stored.classifier.clone();
                classifiers.insert(key, stored);
                return Ok((classifier, note));
            }
            Ok(None) => "no trained model is stored for the task as the spec has it".to_string(),
            Err(e) => {
                tracing::warn!(error = %e, task = %key.1, "reading the model store failed");
                if let Some(in_use) = classifiers.get_mut(&key) {
                    // Keep the model at hand; ask again after `refresh`.
                    in_use.checked = Instant::now();
                    return Ok((in_use.classifier.clone(), in_use.source.note()));
                }
                format!("the model store could not be read ({e})")
            }
        };
        let note = format!(
            "{why}: trained in-process on the spec's {} examples",
            spec_only.examples.len()
        );
        self.trained_here(&mut classifiers, key, spec_only, Some(note))
    }

    /// The store's newest model for the task, if it was trained on the
    /// spec's examples as they are now and with this process's model kind;
    /// the one in use when that is still the newest.
    async fn stored(
        &self,
        store: &dyn ModelArtifacts,
        (workflow, task): &(String, String),
        spec: &TrainingSet,
        in_use: Option<&InUse>,
    ) -> Result<Option<InUse>, ModelError> {
        let unavailable = |e: crate::ports::StoreError| ModelError::Unavailable(e.to_string());
        let Some(meta) = store
            .latest_model(workflow, task)
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        if meta.spec_digest != spec.spec_digest || meta.model != self.model_name() {
            return Ok(None);
        }
        if let Some(in_use) = in_use {
            if matches!(&in_use.source, Source::Stored(m) if m.version == meta.version) {
                return Ok(Some(InUse {
                    classifier: in_use.classifier.clone(),
                    source: Source::Stored(meta),
                    checked: Instant::now(),
                }));
            }
        }
        let Some(body) = store.model_body(&meta).await.map_err(unavailable)? else {
            return Err(ModelError::Unavailable(format!(
                "model v{} was replaced while being read",
                meta.version
            )));
        };
        let classifier: Classifier = serde_json::from_slice(&body).map_err(|e| {
            ModelError::Unavailable(format!("stored model v{} is unreadable: {e}", meta.version))
        })?;
        tracing::info!(
            workflow,
            task,
            version = meta.version,
            "stored classifier loaded"
        );
        Ok(Some(InUse {
            classifier: Arc::new(classifier),
            source: Source::Stored(meta),
            checked: Instant::now(),
        }))
    }

    /// Trains on `set` unless the classifier in use was trained here on the
    /// same set.
    fn trained_here(
        &self,
        classifiers: &mut Classifiers,
        key: (String, String),
        set: TrainingSet,
        note: Option<String>,
    ) -> Result<(Arc<Classifier>, Option<String>), ModelError> {
        if let Some(in_use) = classifiers.get_mut(&key) {
            if matches!(&in_use.source, Source::Here { digest, .. } if *digest == set.digest) {
                in_use.checked = Instant::now();
                in_use.source = Source::Here {
                    digest: set.digest,
                    note: note.clone(),
                };
                return Ok((in_use.classifier.clone(), note));
            }
        }
        let classifier = Arc::new(self.train(&set)?);
        classifiers.insert(
            key,
            InUse {
                classifier: classifier.clone(),
                source: Source::Here {
                    digest: set.digest,
                    note: note.clone(),
                },
                checked: Instant::now(),
            },
        );
        Ok((classifier, note))
    }
}
