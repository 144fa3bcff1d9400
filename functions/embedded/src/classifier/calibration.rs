//! Temperature scaling: one scalar that turns decision values into
//! probabilities whose confidence matches observed accuracy
//! (Guo et al., "On Calibration of Modern Neural Networks", 2017).

/// Softmax of `scores / temperature`, numerically stable.
pub fn softmax(scores: &[f32], temperature: f32) -> Vec<f32> {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = scores
        .iter()
        .map(|s| ((s - max) / temperature).exp())
        .collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

/// Cross-entropy against Platt's targets rather than the bare truth: the
/// true class counts (n + 1) / (n + 2), the rest share the remainder. With
/// a handful of held-out examples all classified right, the bare likelihood
/// is best at temperature 0 (every answer certain); these targets keep
/// confidence at what that much evidence supports, and fade as n grows.
fn mean_nll(held_out: &[(Vec<f32>, usize)], temperature: f32) -> f64 {
    let n = held_out.len() as f64;
    let truth_share = (n + 1.0) / (n + 2.0);
    let total: f64 = held_out
        .iter()
        .map(|(scores, truth)| {
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let scaled = |s: f32| ((s - max) / temperature) as f64;
            let log_sum = scores.iter().map(|&s| scaled(s).exp()).sum::<f64>().ln();
            let others = (scores.len() - 1).max(1) as f64;
            scores
                .iter()
                .enumerate()
                .map(|(c, &s)| {
                    let target = if c == *truth {
                        truth_share
                    } else {
                        (1.0 - truth_share) / others
                    };
                    target * (log_sum - scaled(s))
                })
                .sum::<f64>()
        })
        .sum();
    total / n.max(1.0)
}

/// The temperature minimising held-out negative log-likelihood, found by
/// golden-section search over log-temperature (NLL is unimodal in it).
pub fn fit_temperature(held_out: &[(Vec<f32>, usize)]) -> f32 {
    if held_out.is_empty() {
        return DEFAULT_TEMPERATURE;
    }
    let (mut lo, mut hi) = ((0.005f64).ln(), (10.0f64).ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let nll = |log_t: f64| mean_nll(held_out, log_t.exp() as f32);
    let mut a = hi - ratio * (hi - lo);
    let mut b = lo + ratio * (hi - lo);
    let (mut fa, mut fb) = (nll(a), nll(b));
    for _ in 0..40 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - ratio * (hi - lo);
            fa = nll(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + ratio * (hi - lo);
            fb = nll(b);
        }
    }
    ((lo + hi) / 2.0).exp() as f32
}

/// Used when there is too little data to hold any out.
pub const DEFAULT_TEMPERATURE: f32 = 0.1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 0.0, -1.0], 0.5);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] > p[1] && p[1] > p[2]);
    }

    #[test]
    fn overconfident_scores_get_a_higher_temperature() {
        // Half the time the top score is wrong: the best temperature flattens
        // the distribution rather than sharpening it.
        let held: Vec<(Vec<f32>, usize)> = (0..100)
            .map(|i| (vec![1.0, 0.0], if i % 2 == 0 { 0 } else { 1 }))
            .collect();
        let wrong_half = fit_temperature(&held);
        let always_right: Vec<(Vec<f32>, usize)> = (0..100).map(|_| (vec![1.0, 0.0], 0)).collect();
        assert!(wrong_half > 5.0, "{wrong_half}");
        assert!(fit_temperature(&always_right) < 0.5);
    }

    #[test]
    fn a_few_right_answers_do_not_make_the_model_certain() {
        // Ten held-out examples, all right: confidence (n+1)/(n+2), not 1.
        let always_right: Vec<(Vec<f32>, usize)> = (0..10).map(|_| (vec![1.0, 0.0], 0)).collect();
        let t = fit_temperature(&always_right);
        let p = softmax(&[1.0, 0.0], t)[0];
        assert!((p - 11.0 / 12.0).abs() < 0.01, "{p}");
        // Ten thousand: nearly certain.
        let many: Vec<(Vec<f32>, usize)> = (0..10_000).map(|_| (vec![1.0, 0.0], 0)).collect();
        assert!(softmax(&[1.0, 0.0], fit_temperature(&many))[0] > 0.999);
    }
}
