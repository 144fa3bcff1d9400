//! Evaluation runs: a fixed train/test split, stratified k-fold
//! cross-validation, and the feedback learning curve.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::metrics::{Metrics, Outcome};
use crate::classifier::{Classifier, ClassifierError, Example, TrainConfig, TrainingSet};
use crate::encoder::EmbeddingTable;
use crate::split::{sample_per_label, stratified_folds, Rng};

#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub train: TrainConfig,
    /// Train on only this many examples per label (few-shot).
    pub shots: Option<usize>,
    pub target_accuracy: f64,
    pub seed: u64,
    /// When above 0, every label's own name (`card_arrival`: the words
    /// "card arrival") joins each training set as one example of this
    /// weight: the label set is part of the task, as a spec's label names
    /// are. Off by default so figures stay examples-only; the learning
    /// curve does not use it.
    pub label_names: f32,
    /// Sentence embeddings of every text the run trains or tests on (label
    /// names too, when used): the model then fuses them with its n-grams.
    /// `None`: the weights-free model.
    pub embeddings: Option<Arc<EmbeddingTable>>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig::default(),
            shots: None,
            target_accuracy: 0.98,
            seed: 1,
            label_names: 0.0,
            embeddings: None,
        }
    }
}

/// Where a long run is; for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    #[serde(flatten)]
    pub metrics: Metrics,
    /// "split" or "5-fold" and so on.
    pub method: String,
    pub train_examples: usize,
    /// Mean wall time of one training.
    pub train_seconds: f64,
}

fn classify_all(
    model: &Classifier,
    test: &[Example],
    embeddings: Option<&EmbeddingTable>,
) -> Vec<Outcome> {
    test.iter()
        .map(|e| {
            let p = model.classify_with(&e.text, embeddings.and_then(|t| t.get(&e.text)));
            Outcome {
                truth: e.label.clone(),
                predicted: p.label,
                confidence: p.confidence,
                threshold: model.threshold().map(|t| t.confidence),
            }
        })
        .collect()
}

fn few_shot(train: Vec<Example>, shots: Option<usize>, seed: u64) -> Vec<Example> {
    match shots {
        None => train,
        Some(n) => sample_per_label(train.iter().map(|e| e.label.as_str()), n, seed)
            .into_iter()
            .map(|i| train[i].clone())
            .collect(),
    }
}

/// Trains on `train` plus, with `label_names` above 0, one example per
/// label whose text is the label's name (the tokenizer splits on `_`).
fn timed_train(
    train: &[Example],
    config: &EvalConfig,
) -> Result<(Classifier, Duration), ClassifierError> {
    let label_names = config.label_names;
    let start = Instant::now();
    let mut examples = train.to_vec();
    let mut weights = vec![1.0; train.len()];
    if label_names > 0.0 {
        let labels: BTreeSet<&str> = train.iter().map(|e| e.label.as_str()).collect();
        for label in labels {
            examples.push(Example::new(label, label));
            weights.push(label_names);
        }
    }
    let embeddings = config.embeddings.as_ref().map(|table| {
        table
            .of_examples(&examples)
            .expect("the table holds every text the evaluation trains on")
    });
    let model = Classifier::train_with(&examples, embeddings.as_deref(), &weights, &config.train)?;
    Ok((model, start.elapsed()))
}

/// Trains on `train` (or `shots` per label of it), scores `test`.
pub fn train_test(
    train: &[Example],
    test: &[Example],
    config: &EvalConfig,
) -> Result<EvalReport, ClassifierError> {
    let train = few_shot(train.to_vec(), config.shots, config.seed);
    let (model, took) = timed_train(&train, config)?;
    let outcomes = classify_all(&model, test, config.embeddings.as_deref());
    Ok(EvalReport {
        metrics: Metrics::compute(&outcomes, config.target_accuracy),
        method: "split".into(),
        train_examples: train.len(),
        train_seconds: took.as_secs_f64(),
    })
}

/// Stratified k-fold: every example is tested once, by a model that never
/// saw it; the metrics pool all folds' outcomes.
pub fn cross_validate(
    examples: &[Example],
    folds: usize,
    config: &EvalConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<EvalReport, ClassifierError> {
    let fold = stratified_folds(
        examples.iter().map(|e| e.label.as_str()),
        folds,
        config.seed,
    );
    let mut outcomes = Vec::with_capacity(examples.len());
    let (mut took, mut trained) = (Duration::ZERO, 0);
    progress(Progress {
        done: 0,
        total: folds,
    });
    for f in 0..folds {
        let (test, train) = split_fold(examples, &fold, f);
        let train = few_shot(train, config.shots, config.seed ^ f as u64);
        trained += train.len();
        let (model, t) = timed_train(&train, config)?;
        took += t;
        outcomes.extend(classify_all(&model, &test, config.embeddings.as_deref()));
        progress(Progress {
            done: f + 1,
            total: folds,
        });
    }
    Ok(EvalReport {
        metrics: Metrics::compute(&outcomes, config.target_accuracy),
        method: format!("{folds}-fold"),
        train_examples: trained / folds.max(1),
        train_seconds: took.as_secs_f64() / folds.max(1) as f64,
    })
}

/// (held-out fold `f`, the rest), each in input order.
pub fn split_fold(examples: &[Example], fold: &[usize], f: usize) -> (Vec<Example>, Vec<Example>) {
    let (test, train): (Vec<_>, Vec<_>) = examples.iter().zip(fold).partition(|(_, &g)| g == f);
    (
        test.into_iter().map(|(e, _)| e.clone()).collect(),
        train.into_iter().map(|(e, _)| e.clone()).collect(),
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct LearningPoint {
    /// Examples the model was trained on: the seed plus corrections so far.
    pub examples: usize,
    pub corrections: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub coverage_at_target: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LearningCurve {
    pub points: Vec<LearningPoint>,
    /// Accuracy of one model trained on all of `train` at once, for
    /// comparison with the curve's end.
    pub all_at_once: f64,
}

/// Starts from `start_shots` examples per label and feeds the rest of
/// `train`, in a seeded random order, as reviewer corrections in batches of
/// `batch`, retraining and scoring `test` after each batch.
pub fn learning_curve(
    train: &[Example],
    test: &[Example],
    start_shots: usize,
    batch: usize,
    config: &EvalConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<LearningCurve, ClassifierError> {
    let seeded = sample_per_label(
        train.iter().map(|e| e.label.as_str()),
        start_shots,
        config.seed,
    );
    let mut rest: Vec<usize> = (0..train.len())
        .filter(|i| seeded.binary_search(i).is_err())
        .collect();
    Rng::new(config.seed).shuffle(&mut rest);
    let seed_examples: Vec<Example> = seeded.iter().map(|&i| train[i].clone()).collect();
    // Corrections here are ordinary examples, so they weigh the same as the
    // seed: the curve's end is then the same training set as all-at-once.
    let mut set = TrainingSet::new(seed_examples, rest.len()).with_feedback_weight(1.0);
    let batches = rest.len().div_ceil(batch.max(1));
    let total = batches + 2;
    let mut points = Vec::new();
    let table = config.embeddings.as_deref();
    let mut score = |set: &TrainingSet, corrections: usize| -> Result<(), ClassifierError> {
        let model = set.train_with(&config.train, table)?;
        let m = Metrics::compute(&classify_all(&model, test, table), config.target_accuracy);
        points.push(LearningPoint {
            examples: set.examples().len(),
            corrections,
            accuracy: m.accuracy,
            macro_f1: m.macro_f1,
            coverage_at_target: m.coverage_at_target,
        });
        Ok(())
    };
    score(&set, 0)?;
    progress(Progress { done: 1, total });
    let mut fed = 0;
    for (b, chunk) in rest.chunks(batch.max(1)).enumerate() {
        for &i in chunk {
            set.add_feedback(train[i].clone());
        }
        fed += chunk.len();
        score(&set, fed)?;
        progress(Progress { done: b + 2, total });
    }
    let all = Classifier::train_with(
        train,
        table.and_then(|t| t.of_examples(train)).as_deref(),
        &vec![1.0; train.len()],
        &config.train,
    )?;
    let all_at_once =
        Metrics::compute(&classify_all(&all, test, table), config.target_accuracy).accuracy;
    progress(Progress { done: total, total });
    Ok(LearningCurve {
        points,
        all_at_once,
    })
}
