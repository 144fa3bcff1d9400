//! Earned autonomy over synthetic verdict streams with known error rates:
//! a label that errs more than the target is promoted in at most
//! `1 - confidence` of the seeds (within a sampling tolerance), and one that
//! errs well below it is promoted in most of them.

use handoff_core::observe::autonomy::{assess, AutonomyStatus, Evidence};
use handoff_core::spec::Autonomy;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEEDS: u64 = 2_000;

fn spec() -> Autonomy {
    Autonomy {
        target_error: 0.02,
        confidence: 0.95,
        audit_rate: 0.05,
        min_samples: 200,
    }
}

/// `samples` verdicts erring at `error_rate`, with confidences that carry
/// no information about being right: every threshold errs alike, so the
/// scan's many thresholds are the worst case for false promotion.
fn stream(rng: &mut StdRng, samples: usize, error_rate: f64) -> Vec<Evidence> {
    (0..samples)
        .map(|_| Evidence {
            confidence: rng.gen_range(0.3..1.0),
            correct: !rng.gen_bool(error_rate),
        })
        .collect()
}

fn promotion_rate(error_rate: f64, samples: usize) -> f64 {
    let promoted = (0..SEEDS)
        .filter(|seed| {
            let mut rng = StdRng::seed_from_u64(*seed);
            assess(&spec(), &stream(&mut rng, samples, error_rate)).status == AutonomyStatus::Auto
        })
        .count();
    promoted as f64 / SEEDS as f64
}

/// Three standard errors of a rate of 5% over the seeds.
fn tolerance() -> f64 {
    3.0 * (0.05 * 0.95 / SEEDS as f64).sqrt()
}

#[test]
fn labels_erring_above_the_target_are_rarely_promoted() {
    let allowed = 1.0 - spec().confidence + tolerance();
    for error_rate in [0.021, 0.025, 0.03, 0.05] {
        for samples in [200, 500, 2_000] {
            let rate = promotion_rate(error_rate, samples);
            println!(
                "true error {error_rate:.3}, {samples} verdicts: promoted in {:.2}% of {SEEDS} seeds (allowed {:.2}%)",
                rate * 100.0,
                allowed * 100.0
            );
            assert!(rate <= allowed, "error {error_rate}, n {samples}: {rate}");
        }
    }
}

#[test]
fn labels_erring_well_below_the_target_are_promoted() {
    for (error_rate, samples, at_least) in
        [(0.0, 300, 0.99), (0.005, 1_000, 0.9), (0.01, 3_000, 0.9)]
    {
        let rate = promotion_rate(error_rate, samples);
        println!(
            "true error {error_rate:.3}, {samples} verdicts: promoted in {:.2}% of {SEEDS} seeds",
            rate * 100.0
        );
        assert!(rate >= at_least, "error {error_rate}, n {samples}: {rate}");
    }
}

#[test]
fn too_few_verdicts_never_promote() {
    let mut rng = StdRng::seed_from_u64(7);
    let proven = assess(&spec(), &stream(&mut rng, 199, 0.0));
    assert_eq!(proven.status, AutonomyStatus::Review);
}
