//! Earned autonomy: a label acts without a person only while the reviewers'
//! verdicts prove its error rate low.
//!
//! The bound is Clopper-Pearson's, not Wilson's: it is exact (built on the
//! binomial itself), so its coverage is at least the stated confidence for
//! every sample size and error rate, where Wilson's dips below it at the
//! small error rates autonomy is about.
//!
//! The confidence threshold is chosen among a few candidates: the
//! confidences that let 100%, 80%, 60%, 40% and 20% of the label's answers
//! act alone. Each candidate claims "answers at or above this confidence err
//! at most `target_error`" and is tested at `1 - (1 - confidence) / 5`
//! (Bonferroni), so the chance that any claim made is false stays within
//! `1 - confidence`. The candidates depend only on the confidences, not on
//! whether the answers were right, which keeps the guarantee; a candidate
//! with fewer than `min_samples` verdicts is not tested. Of the claims
//! proven, the one that covers most answers wins.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, ContinuousCDF};

use handoff_spec::Autonomy;

/// One reviewer's verdict on one AI answer of a label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// The AI's confidence in the label.
    pub confidence: f64,
    /// Whether the reviewer's final label was the AI's.
    pub correct: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutonomyStatus {
    /// A person approves the label's runs.
    Review,
    /// Runs at or above the threshold act alone.
    Auto,
}

/// What the evidence proves for one label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelAutonomy {
    pub status: AutonomyStatus,
    /// Verdicts on the label's answers.
    pub samples: usize,
    pub errors: usize,
    /// Upper bound of the error rate at the threshold when `auto`, over all
    /// samples otherwise.
    pub error_bound: f64,
    /// Answers at or above this confidence act alone.
    pub threshold: Option<f64>,
    /// The share of the label's answers at or above the threshold: the
    /// coverage at the guaranteed accuracy.
    pub coverage: f64,
}

/// The one-sided Clopper-Pearson upper bound of an error rate after
/// `errors` in `samples`, at `confidence`.
pub fn error_upper_bound(errors: usize, samples: usize, confidence: f64) -> f64 {
    if samples == 0 || errors >= samples {
        return 1.0;
    }
    Beta::new(errors as f64 + 1.0, (samples - errors) as f64)
        .expect("both shapes are positive")
        .inverse_cdf(confidence)
}

/// The shares of a label's answers the candidate thresholds let act alone.
const COVERAGES: [f64; 5] = [1.0, 0.8, 0.6, 0.4, 0.2];

/// What `evidence` proves for a label under `spec`.
pub fn assess(spec: &Autonomy, evidence: &[Evidence]) -> LabelAutonomy {
    let samples = evidence.len();
    let errors = evidence.iter().filter(|e| !e.correct).count();
    let mut confidences: Vec<f64> = evidence.iter().map(|e| e.confidence).collect();
    confidences.sort_by(|a, b| b.total_cmp(a));
    let per_claim = 1.0 - (1.0 - spec.confidence) / COVERAGES.len() as f64;
    let proven = COVERAGES.iter().find_map(|coverage| {
        let top = (coverage * samples as f64).ceil() as usize;
        let threshold = *confidences.get(top.checked_sub(1)?)?;
        let (n, k) = evidence
            .iter()
            .filter(|e| e.confidence >= threshold)
            .fold((0, 0), |(n, k), e| (n + 1, k + usize::from(!e.correct)));
        if n < spec.min_samples {
            return None;
        }
        let bound = error_upper_bound(k, n, per_claim);
        (bound <= spec.target_error).then_some((threshold, n, bound))
    });
    match proven {
        Some((threshold, n, bound)) => LabelAutonomy {
            status: AutonomyStatus::Auto,
            samples,
            errors,
            error_bound: bound,
            threshold: Some(threshold),
            coverage: n as f64 / samples as f64,
        },
        None => LabelAutonomy {
            status: AutonomyStatus::Review,
            samples,
            errors,
            error_bound: error_upper_bound(errors, samples, spec.confidence),
            threshold: None,
            coverage: 0.0,
        },
    }
}

/// Why an answer may not act alone, or `None` when it may.
pub fn withheld(
    label: &str,
    confidence: f64,
    spec: &Autonomy,
    proven: Option<&LabelAutonomy>,
) -> Option<String> {
    let Some(proven) = proven else {
        return Some(format!("label `{label}` has no autonomy review yet"));
    };
    match (proven.status, proven.threshold) {
        (AutonomyStatus::Auto, Some(threshold)) if confidence >= threshold => None,
        (AutonomyStatus::Auto, Some(threshold)) => Some(format!(
            "confidence {confidence:.2} is below `{label}`'s proven threshold {threshold:.2}"
        )),
        _ if proven.samples < spec.min_samples => Some(format!(
            "label `{label}` has {} of the {} verdicts autonomy needs",
            proven.samples, spec.min_samples
        )),
        _ => Some(format!(
            "label `{label}`'s error bound {:.1}% is above the target {:.1}% ({} errors in {} verdicts)",
            proven.error_bound * 100.0,
            spec.target_error * 100.0,
            proven.errors,
            proven.samples
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_matches_known_values() {
        // No error in n: the exact bound is 1 - (1 - c)^(1/n) (the "rule of three" near 3/n).
        let exact = 1.0 - 0.05_f64.powf(1.0 / 200.0);
        assert!((error_upper_bound(0, 200, 0.95) - exact).abs() < 1e-9);
        // A bound is above the observed rate and shrinks with more samples.
        let small = error_upper_bound(2, 100, 0.95);
        let large = error_upper_bound(20, 1000, 0.95);
        assert!(small > 0.02 && large > 0.02 && large < small);
        assert_eq!(error_upper_bound(5, 5, 0.95), 1.0);
        assert_eq!(error_upper_bound(0, 0, 0.95), 1.0);
    }

    fn spec(min_samples: usize) -> Autonomy {
        Autonomy {
            target_error: 0.02,
            confidence: 0.95,
            audit_rate: 0.05,
            min_samples,
        }
    }

    #[test]
    fn the_threshold_drops_only_as_far_as_the_evidence_holds() {
        // 300 right answers at high confidence, then 100 at low confidence
        // of which half are wrong.
        let mut evidence: Vec<Evidence> = (0..300)
            .map(|i| Evidence {
                confidence: 0.9 + f64::from(i % 10) / 100.0,
                correct: true,
            })
            .collect();
        evidence.extend((0..100).map(|i| Evidence {
            confidence: 0.5,
            correct: i % 2 == 0,
        }));
        let proven = assess(&spec(200), &evidence);
        assert_eq!(proven.status, AutonomyStatus::Auto);
        // 60% coverage is the widest candidate free of the low-confidence
        // errors: the top 240 answers, confidences 0.92 and up.
        assert_eq!(proven.threshold, Some(0.92));
        assert_eq!((proven.samples, proven.errors), (400, 50));
        assert!((proven.coverage - 0.6).abs() < 1e-9);
        assert!(withheld("x", 0.95, &spec(200), Some(&proven)).is_none());
        assert!(withheld("x", 0.6, &spec(200), Some(&proven))
            .unwrap()
            .contains("below"));
    }

    #[test]
    fn too_few_verdicts_keep_a_label_under_review() {
        let evidence = vec![
            Evidence {
                confidence: 0.99,
                correct: true
            };
            150
        ];
        let proven = assess(&spec(200), &evidence);
        assert_eq!(proven.status, AutonomyStatus::Review);
        let why = withheld("x", 0.99, &spec(200), Some(&proven)).unwrap();
        assert!(why.contains("150 of the 200"), "{why}");
        assert!(withheld("x", 0.99, &spec(200), None).is_some());
    }
}
