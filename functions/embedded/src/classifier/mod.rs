//! The embedded text classifier: TF-IDF word and character n-grams, a
//! one-vs-rest linear SVM, and temperature-scaled softmax confidence.

mod calibration;
mod features;
mod feedback;
mod linear;
mod vectorizer;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use features::FeatureConfig;
pub use feedback::TrainingSet;
pub use linear::LinearConfig;

use crate::split::stratified_folds;
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
    /// Folds held out to fit the confidence temperature; below 2, a fixed
    /// default temperature is used.
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
            calibration_folds: 3,
            top_k: 5,
            seed: 42,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        }
    }
}

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
    model: LinearModel,
    temperature: f32,
    top_k: usize,
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
        assert_eq!(examples.len(), weights.len(), "one weight per example");
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
        let temperature = held_out_temperature(examples, &ys, weights, labels.len(), config);
        let (vectorizer, model) = fit(examples, &ys, weights, labels.len(), config);
        Ok(Self {
            labels,
            vectorizer,
            model,
            temperature,
            top_k: config.top_k.max(1),
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn classify(&self, text: &str) -> Prediction {
        let scores = self.model.scores(&self.vectorizer.transform(text));
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

fn fit(
    examples: &[Example],
    ys: &[usize],
    weights: &[f32],
    classes: usize,
    config: &TrainConfig,
) -> (Vectorizer, LinearModel) {
    let vectorizer = Vectorizer::fit(
        examples.iter().map(|e| e.text.as_str()),
        &config.features,
        config.min_df,
    );
    let xs: Vec<Sparse> = examples
        .iter()
        .map(|e| vectorizer.transform(&e.text))
        .collect();
    let problem = Problem {
        xs: &xs,
        ys,
        weights,
        classes,
        features: vectorizer.len(),
    };
    let model = LinearModel::train(&problem, &config.linear, config.seed, config.threads);
    (vectorizer, model)
}

/// Fits the temperature on scores of examples the model did not train on;
/// scores on training data are overconfident and would make a useless
/// threshold.
fn held_out_temperature(
    examples: &[Example],
    ys: &[usize],
    weights: &[f32],
    classes: usize,
    config: &TrainConfig,
) -> f32 {
    let k = config.calibration_folds;
    if k < 2 || examples.len() < 2 * k || classes < 2 {
        return calibration::DEFAULT_TEMPERATURE;
    }
    let fold = stratified_folds(examples.iter().map(|e| e.label.as_str()), k, config.seed);
    let mut held_out = Vec::with_capacity(examples.len());
    for f in 0..k {
        let keep: Vec<usize> = (0..examples.len()).filter(|&i| fold[i] != f).collect();
        let train: Vec<Example> = keep.iter().map(|&i| examples[i].clone()).collect();
        let train_ys: Vec<usize> = keep.iter().map(|&i| ys[i]).collect();
        let train_weights: Vec<f32> = keep.iter().map(|&i| weights[i]).collect();
        let (vectorizer, model) = fit(&train, &train_ys, &train_weights, classes, config);
        for ((e, &y), _) in examples.iter().zip(ys).zip(&fold).filter(|(_, &g)| g == f) {
            held_out.push((model.scores(&vectorizer.transform(&e.text)), y));
        }
    }
    calibration::fit_temperature(&held_out)
}
