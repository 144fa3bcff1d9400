//! The embedded text classifier: TF-IDF word and character n-grams,
//! optionally joined by a sentence embedding scaled by α, a linear model
//! (a one-vs-rest SVM, or one softmax when labels have few examples), and
//! temperature-scaled softmax confidence.

mod calibration;
mod features;
mod feedback;
mod held_out;
mod linear;
mod softmax;
mod vectorizer;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use features::FeatureConfig;
pub use feedback::TrainingSet;
pub use linear::LinearConfig;

use linear::{LinearModel, Problem};
use vectorizer::{Sparse, Vectorizer};

/// One labelled message: a spec example or a reviewer's correction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    pub label: String,
}

impl Example {
    pub fn new(text: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            label: label.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    /// Drop n-grams seen in fewer training texts than this.
    pub min_df: usize,
    pub linear: LinearConfig,
    /// α: the length of the sentence embedding beside the unit-length
    /// n-gram vector, when a model trains with embeddings: the candidate
    /// that scores best on held-out folds of the training data (ties to
    /// the smallest), or the first when there are too few examples to hold
    /// any out.
    pub embedding_weights: Vec<f32>,
    /// Accuracy the confidence threshold is chosen for (on held-out folds of
    /// the training data); with under [`FEW_EXAMPLES`] examples of some
    /// label, half its error rate is the goal instead.
    pub target_accuracy: f64,
    /// Folds held out to fit the confidence temperature and threshold;
    /// below 2, a fixed default temperature is used and no threshold.
    pub calibration_folds: usize,
    /// How many labels a prediction ranks.
    pub top_k: usize,
    pub seed: u64,
    /// Training threads; results do not depend on it.
    pub threads: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default(),
            min_df: 1,
            linear: LinearConfig::default(),
            embedding_weights: vec![1.0, 0.5, 2.0],
            target_accuracy: 0.98,
            calibration_folds: 3,
            top_k: 5,
            seed: 42,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        }
    }
}

/// Below this many examples of a label, thresholds aim stricter.
pub const FEW_EXAMPLES: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub label: String,
    /// Calibrated probability of this label.
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub label: String,
    /// Calibrated probability that `label` is right, in [0, 1].
    pub confidence: f32,
    /// The `top_k` most likely labels, best first.
    pub ranked: Vec<Ranked>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClassifierError {
    #[error("no training examples")]
    NoExamples,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Classifier {
    labels: Vec<String>,
    vectorizer: Vectorizer,
    /// α when the model was trained with sentence embeddings.
    #[serde(default)]
    embedding_weight: Option<f32>,
    model: LinearModel,
    temperature: f32,
    /// Confidence at or above which held-out training examples reached
    /// `target_accuracy`; `None` when too few examples to hold any out, or
    /// when no threshold reached it.
    #[serde(default)]
    threshold: Option<Threshold>,
    top_k: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub confidence: f32,
    /// The accuracy it was chosen for.
    pub target_accuracy: f64,
    /// Share of held-out training examples at or above it.
    pub coverage: f64,
}

impl Classifier {
    /// Trains on `examples`; the result depends only on the examples (in
    /// order) and the config, never on the thread count or the process.
    pub fn train(examples: &[Example], config: &TrainConfig) -> Result<Self, ClassifierError> {
        Self::train_weighted(examples, &vec![1.0; examples.len()], config)
    }

    /// Like [`Classifier::train`], with a weight per example: a mistake on
    /// an example of weight 3 costs as much as on three of weight 1.
    pub fn train_weighted(
        examples: &[Example],
        weights: &[f32],
        config: &TrainConfig,
    ) -> Result<Self, ClassifierError> {
        Self::train_with(examples, None, weights, config)
    }

    /// Like [`Classifier::train_weighted`], with each example's sentence
    /// embedding (in the same order) as features beside its n-grams; such a
    /// model classifies with [`Classifier::classify_with`].
    pub fn train_with(
        examples: &[Example],
        embeddings: Option<&[Vec<f32>]>,
        weights: &[f32],
        config: &TrainConfig,
    ) -> Result<Self, ClassifierError> {
        assert_eq!(examples.len(), weights.len(), "one weight per example");
        if let Some(e) = embeddings {
            assert_eq!(examples.len(), e.len(), "one embedding per example");
        }
        if examples.is_empty() {
            return Err(ClassifierError::NoExamples);
        }
        let labels: Vec<String> = examples
            .iter()
            .map(|e| e.label.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let ys: Vec<usize> = examples
            .iter()
            .map(|e| {
                labels
                    .binary_search(&e.label)
                    .expect("label collected above")
            })
            .collect();
        let data = Data {
            examples,
            embeddings,
            ys: &ys,
            weights,
            classes: labels.len(),
        };
        let config = &TrainConfig {
            linear: config.linear.decided_for(&ys, labels.len()),
            ..config.clone()
        };
        let calibration = held_out::calibrate(&data, config);
        let alpha = calibration.alpha;
        let (vectorizer, model) = fit(&data, config, alpha);
        Ok(Self {
            labels,
            vectorizer,
            embedding_weight: embeddings.map(|_| alpha),
            model,
            temperature: calibration.temperature,
            threshold: calibration.threshold,
            top_k: config.top_k.max(1),
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn threshold(&self) -> Option<Threshold> {
        self.threshold
    }

    /// The α it was trained with, if it uses embeddings.
    pub fn embedding_weight(&self) -> Option<f32> {
        self.embedding_weight
    }

    /// Whether [`Classifier::classify_with`] needs the text's embedding.
    pub fn uses_embeddings(&self) -> bool {
        self.embedding_weight.is_some()
    }

    pub fn classify(&self, text: &str) -> Prediction {
        self.classify_with(text, None)
    }

    /// Classifies `text`; a model trained with embeddings needs the text's,
    /// and without it scores on the n-grams alone (less well).
    pub fn classify_with(&self, text: &str, embedding: Option<&[f32]>) -> Prediction {
        let alpha = self.embedding_weight.unwrap_or(0.0);
        let x = features(&self.vectorizer, text, embedding, alpha);
        let scores = self.model.scores(&x);
        let probs = calibration::softmax(&scores, self.temperature);
        let mut order: Vec<usize> = (0..probs.len()).collect();
        // Ties break on label order so equal scores rank the same every time.
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        let ranked: Vec<Ranked> = order
            .iter()
            .take(self.top_k)
            .map(|&c| Ranked {
                label: self.labels[c].clone(),
                score: probs[c].clamp(0.0, 1.0),
            })
            .collect();
        Prediction {
            label: ranked[0].label.clone(),
            confidence: ranked[0].score,
            ranked,
        }
    }
}

/// A training set as [`Classifier::train_with`] takes it.
struct Data<'a> {
    examples: &'a [Example],
    embeddings: Option<&'a [Vec<f32>]>,
    ys: &'a [usize],
    weights: &'a [f32],
    classes: usize,
}

impl Data<'_> {
    fn subset(&self, keep: &[usize]) -> OwnedData {
        OwnedData {
            examples: keep.iter().map(|&i| self.examples[i].clone()).collect(),
            embeddings: self
                .embeddings
                .map(|e| keep.iter().map(|&i| e[i].clone()).collect()),
            ys: keep.iter().map(|&i| self.ys[i]).collect(),
            weights: keep.iter().map(|&i| self.weights[i]).collect(),
        }
    }
}

struct OwnedData {
    examples: Vec<Example>,
    embeddings: Option<Vec<Vec<f32>>>,
    ys: Vec<usize>,
    weights: Vec<f32>,
}

/// The n-gram vector, then the embedding scaled by α in the indices after
/// the vocabulary's.
fn features(vectorizer: &Vectorizer, text: &str, embedding: Option<&[f32]>, alpha: f32) -> Sparse {
    let mut x = vectorizer.transform(text);
    if let Some(embedding) = embedding.filter(|_| alpha > 0.0) {
        let base = vectorizer.len() as u32;
        x.indices
            .extend((0..embedding.len() as u32).map(|j| base + j));
        x.values.extend(embedding.iter().map(|v| v * alpha));
    }
    x
}

fn fit(data: &Data, config: &TrainConfig, alpha: f32) -> (Vectorizer, LinearModel) {
    let vectorizer = Vectorizer::fit(
        data.examples.iter().map(|e| e.text.as_str()),
        &config.features,
        config.min_df,
    );
    let embedding = |i: usize| data.embeddings.map(|e| e[i].as_slice());
    let xs: Vec<Sparse> = data
        .examples
        .iter()
        .enumerate()
        .map(|(i, e)| features(&vectorizer, &e.text, embedding(i), alpha))
        .collect();
    let dense = data.embeddings.and_then(|e| e.first()).map_or(0, Vec::len);
    let problem = Problem {
        xs: &xs,
        ys: data.ys,
        weights: data.weights,
        classes: data.classes,
        features: vectorizer.len() + dense,
    };
    let model = LinearModel::train(&problem, &config.linear, config.seed, config.threads);
    (vectorizer, model)
}
