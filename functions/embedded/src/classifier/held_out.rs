//! What is learnt from examples the model did not train on: α (when the
//! model uses embeddings), the confidence temperature and the threshold.
//! Scores on training data are overconfident and would make all three
//! useless.

use super::{calibration, features, fit, Data, Threshold, TrainConfig, FEW_EXAMPLES};
use crate::eval::metrics::{coverage, Outcome};
use crate::split::stratified_folds;

pub(super) struct Calibration {
    pub alpha: f32,
    pub temperature: f32,
    pub threshold: Option<Threshold>,
}

/// Held-out scores and true classes, per candidate α.
type HeldOut = Vec<(Vec<f32>, usize)>;

pub(super) fn calibrate(data: &Data, config: &TrainConfig) -> Calibration {
    let alphas: Vec<f32> = match data.embeddings {
        Some(_) if !config.embedding_weights.is_empty() => config.embedding_weights.clone(),
        Some(_) => vec![1.0],
        None => vec![0.0],
    };
    let (k, n) = (config.calibration_folds, data.examples.len());
    if k < 2 || n < 2 * k || data.classes < 2 {
        return Calibration {
            alpha: alphas[0],
            temperature: calibration::DEFAULT_TEMPERATURE,
            threshold: None,
        };
    }
    let held_out = held_out_scores(data, config, &alphas, k);
    // Most held-out examples right; ties go to the earlier candidate.
    let right = |scores: &HeldOut| scores.iter().filter(|(s, y)| argmax(s) == *y).count();
    let best = (0..alphas.len())
        .max_by(|&a, &b| {
            right(&held_out[a])
                .cmp(&right(&held_out[b]))
                .then(b.cmp(&a))
        })
        .expect("at least one candidate");
    let held_out = &held_out[best];
    let temperature = calibration::fit_temperature(held_out);
    Calibration {
        alpha: alphas[best],
        temperature,
        threshold: threshold(data, config, held_out, temperature),
    }
}

/// k-fold: each example scored by models (one per α) that did not see it.
fn held_out_scores(data: &Data, config: &TrainConfig, alphas: &[f32], k: usize) -> Vec<HeldOut> {
    let n = data.examples.len();
    let fold = stratified_folds(
        data.examples.iter().map(|e| e.label.as_str()),
        k,
        config.seed,
    );
    let mut held_out = vec![Vec::with_capacity(n); alphas.len()];
    for f in 0..k {
        let keep: Vec<usize> = (0..n).filter(|&i| fold[i] != f).collect();
        let train = data.subset(&keep);
        let train = Data {
            examples: &train.examples,
            embeddings: train.embeddings.as_deref(),
            ys: &train.ys,
            weights: &train.weights,
            classes: data.classes,
        };
        for (a, &alpha) in alphas.iter().enumerate() {
            let (vectorizer, model) = fit(&train, config, alpha);
            for i in (0..n).filter(|&i| fold[i] == f) {
                let embedding = data.embeddings.map(|e| e[i].as_slice());
                let x = features(&vectorizer, &data.examples[i].text, embedding, alpha);
                held_out[a].push((model.scores(&x), data.ys[i]));
            }
        }
    }
    held_out
}

/// The lowest confidence at which held-out examples reach the target
/// accuracy (half the error when some label has few examples).
fn threshold(
    data: &Data,
    config: &TrainConfig,
    held_out: &HeldOut,
    temperature: f32,
) -> Option<Threshold> {
    let fewest = (0..data.classes)
        .map(|c| data.ys.iter().filter(|&&y| y == c).count())
        .min()
        .unwrap_or(0);
    let target = if fewest < FEW_EXAMPLES {
        1.0 - (1.0 - config.target_accuracy) / 2.0
    } else {
        config.target_accuracy
    };
    let outcomes: Vec<Outcome> = held_out
        .iter()
        .map(|(scores, y)| {
            let probs = calibration::softmax(scores, temperature);
            let best = argmax(&probs);
            Outcome {
                truth: y.to_string(),
                predicted: best.to_string(),
                confidence: probs[best],
                threshold: None,
            }
        })
        .collect();
    let (_, coverage, confidence) = coverage(&outcomes, target);
    (coverage > 0.0).then_some(Threshold {
        confidence,
        target_accuracy: target,
        coverage,
    })
}

/// The first index of the largest value.
fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}
