//! Scores of a set of predictions against the truth.

use std::collections::BTreeMap;

use serde::Serialize;

/// One classified message: what it was, what the model said, how sure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub truth: String,
    pub predicted: String,
    pub confidence: f32,
    /// The threshold the model chose on its own training data; above it,
    /// the message would have been answered without a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// How many messages truly had this label.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub truth: String,
    pub predicted: String,
    pub count: usize,
}

/// Accuracy of the messages whose confidence is at least `threshold`, and
/// the share of messages that is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoveragePoint {
    pub threshold: f32,
    pub coverage: f64,
    pub accuracy: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub count: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_label: Vec<LabelScore>,
    /// Most frequent mistakes first.
    pub confused: Vec<Confusion>,
    /// From the most confident message down to all of them.
    pub coverage_curve: Vec<CoveragePoint>,
    pub target_accuracy: f64,
    /// The largest share of messages answered at `target_accuracy` or
    /// better; 0 if even the most confident miss it.
    pub coverage_at_target: f64,
    /// Answer when confidence ≥ this, route to a person below it.
    pub threshold_at_target: f32,
    /// The same with each model's own threshold, chosen on its training
    /// data only: what a deployment would have done.
    pub trained_threshold: Option<CoveragePoint>,
}

const CURVE_POINTS: usize = 200;

impl Metrics {
    pub fn compute(outcomes: &[Outcome], target_accuracy: f64) -> Self {
        let count = outcomes.len();
        let correct = outcomes.iter().filter(|o| o.truth == o.predicted).count();
        let (coverage_curve, coverage_at_target, threshold_at_target) =
            coverage(outcomes, target_accuracy);
        let per_label = per_label(outcomes);
        let macro_f1 = if per_label.is_empty() {
            0.0
        } else {
            per_label.iter().map(|l| l.f1).sum::<f64>() / per_label.len() as f64
        };
        Self {
            count,
            accuracy: ratio(correct, count),
            macro_f1,
            per_label,
            confused: confused(outcomes),
            coverage_curve,
            target_accuracy,
            coverage_at_target,
            threshold_at_target,
            trained_threshold: trained_threshold(outcomes),
        }
    }
}

/// Coverage and accuracy when each message is answered only above its
/// model's trained threshold; `threshold` is their mean.
fn trained_threshold(outcomes: &[Outcome]) -> Option<CoveragePoint> {
    let thresholds: Vec<f32> = outcomes.iter().filter_map(|o| o.threshold).collect();
    if thresholds.len() != outcomes.len() || outcomes.is_empty() {
        return None;
    }
    let answered: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.threshold.is_some_and(|t| o.confidence >= t))
        .collect();
    let correct = answered.iter().filter(|o| o.truth == o.predicted).count();
    Some(CoveragePoint {
        threshold: thresholds.iter().sum::<f32>() / thresholds.len() as f32,
        coverage: ratio(answered.len(), outcomes.len()),
        accuracy: ratio(correct, answered.len()),
    })
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn per_label(outcomes: &[Outcome]) -> Vec<LabelScore> {
    // (true positives, predicted as label, truly label)
    let mut tally: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for o in outcomes {
        tally.entry(&o.truth).or_default().2 += 1;
        tally.entry(&o.predicted).or_default().1 += 1;
        if o.truth == o.predicted {
            tally.entry(&o.truth).or_default().0 += 1;
        }
    }
    tally
        .into_iter()
        // A label only ever predicted, never true, has no recall to speak
        // of; it still costs the true labels their precision.
        .filter(|(_, (_, _, support))| *support > 0)
        .map(|(label, (tp, predicted, support))| {
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            LabelScore {
                label: label.to_string(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect()
}

fn confused(outcomes: &[Outcome]) -> Vec<Confusion> {
    let mut pairs: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.truth != o.predicted) {
        *pairs.entry((&o.truth, &o.predicted)).or_default() += 1;
    }
    let mut out: Vec<Confusion> = pairs
        .into_iter()
        .map(|((truth, predicted), count)| Confusion {
            truth: truth.to_string(),
            predicted: predicted.to_string(),
            count,
        })
        .collect();
    // Stable sort: equal counts stay in label order.
    out.sort_by_key(|c| std::cmp::Reverse(c.count));
    out
}

/// The curve, sampled at about `CURVE_POINTS` thresholds, and the best
/// coverage that keeps accuracy at or above the target.
pub(crate) fn coverage(outcomes: &[Outcome], target: f64) -> (Vec<CoveragePoint>, f64, f32) {
    let mut sorted: Vec<&Outcome> = outcomes.iter().collect();
    sorted.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let n = sorted.len();
    let mut curve = Vec::new();
    let (mut best_coverage, mut best_threshold) = (0.0, f32::INFINITY);
    let mut correct = 0;
    let step = (n / CURVE_POINTS).max(1);
    let mut i = 0;
    while i < n {
        // Messages with equal confidence are all answered or none is, so
        // the curve only has points between distinct confidences.
        let threshold = sorted[i].confidence;
        while i < n && sorted[i].confidence == threshold {
            correct += usize::from(sorted[i].truth == sorted[i].predicted);
            i += 1;
        }
        let point = CoveragePoint {
            threshold,
            coverage: ratio(i, n),
            accuracy: ratio(correct, i),
        };
        if point.accuracy >= target {
            best_coverage = point.coverage;
            best_threshold = threshold;
        }
        if curve.last().is_none_or(|p: &CoveragePoint| {
            i == n || i >= ((p.coverage * n as f64) as usize + step)
        }) {
            curve.push(point);
        }
    }
    (curve, best_coverage, best_threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(truth: &str, predicted: &str, confidence: f32) -> Outcome {
        Outcome {
            truth: truth.into(),
            predicted: predicted.into(),
            confidence,
            threshold: None,
        }
    }

    /// Truth a a a b b c; predicted a a b b c c.
    /// a: tp 2, predicted 2, support 3 -> p 1, r 2/3, f1 0.8
    /// b: tp 1, predicted 2, support 2 -> p 1/2, r 1/2, f1 0.5
    /// c: tp 1, predicted 2, support 1 -> p 1/2, r 1, f1 2/3
    fn tiny() -> Vec<Outcome> {
        vec![
            o("a", "a", 0.9),
            o("a", "a", 0.8),
            o("a", "b", 0.3),
            o("b", "b", 0.7),
            o("b", "c", 0.2),
            o("c", "c", 0.6),
        ]
    }

    #[test]
    fn hand_checked_confusion_matrix() {
        let m = Metrics::compute(&tiny(), 0.9);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        let f1: Vec<f64> = m.per_label.iter().map(|l| l.f1).collect();
        assert!((f1[0] - 0.8).abs() < 1e-12);
        assert!((f1[1] - 0.5).abs() < 1e-12);
        assert!((f1[2] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(m.per_label[0].support, 3);
        assert_eq!(
            m.confused,
            [
                Confusion {
                    truth: "a".into(),
                    predicted: "b".into(),
                    count: 1
                },
                Confusion {
                    truth: "b".into(),
                    predicted: "c".into(),
                    count: 1
                },
            ]
        );
    }

    #[test]
    fn coverage_stops_before_the_first_confident_mistake() {
        let m = Metrics::compute(&tiny(), 0.9);
        // The four most confident are right, the fifth (0.3) is wrong.
        assert!((m.coverage_at_target - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(m.threshold_at_target, 0.6);
        let last = m.coverage_curve.last().unwrap();
        assert_eq!(last.coverage, 1.0);
        assert!((last.accuracy - m.accuracy).abs() < 1e-12);
    }

    #[test]
    fn unreachable_target_covers_nothing() {
        let m = Metrics::compute(&[o("a", "b", 0.9), o("a", "a", 0.1)], 0.99);
        assert_eq!(m.coverage_at_target, 0.0);
        assert!(m.threshold_at_target.is_infinite());
    }
}
