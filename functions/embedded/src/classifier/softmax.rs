//! Multinomial logistic regression (one softmax over all labels) trained
//! by L-BFGS with a backtracking line search: minimises
//! `½‖W‖² + C · Σᵢ weightᵢ · cross-entropy(softmax(Wᵀxᵢ + b), yᵢ)`, the bias
//! unregularised. With few examples per label it generalises better than
//! one-vs-rest margins, since every label's weights are fitted against
//! every other's at once.
//!
//! Written here rather than taken from an optimisation crate: the loop is
//! sixty lines, and the objective must read the sparse feature-major
//! vectors the SVM uses without copying them into another crate's types.

use std::collections::VecDeque;

use super::linear::{LinearModel, Problem};

/// Past steps L-BFGS keeps to approximate the curvature.
const MEMORY: usize = 7;
const MAX_ITERATIONS: usize = 300;
/// Stop once the gradient has shrunk by this factor, or a step gains less
/// than this share of the objective.
const TOLERANCE: f64 = 1e-4;
const MIN_GAIN: f64 = 1e-7;

pub fn train(problem: &Problem, c: f32) -> LinearModel {
    let (classes, features) = (problem.classes, problem.features);
    let dim = features * classes + classes;
    let mut x = vec![0.0f32; dim];
    let mut g = vec![0.0f32; dim];
    let mut f = objective(problem, c, &x, &mut g);
    let g0 = norm(&g);
    let mut history: VecDeque<(Vec<f32>, Vec<f32>, f64)> = VecDeque::new();
    let (mut next_x, mut next_g) = (vec![0.0f32; dim], vec![0.0f32; dim]);
    for _ in 0..MAX_ITERATIONS {
        let d = direction(&g, &history, g0);
        let slope = dot(&g, &d);
        if slope >= 0.0 {
            // Curvature pairs gone stale: start over from the gradient.
            history.clear();
            continue;
        }
        let mut step = 1.0f32;
        let mut next_f;
        loop {
            for ((n, xi), di) in next_x.iter_mut().zip(&x).zip(&d) {
                *n = xi + step * di;
            }
            next_f = objective(problem, c, &next_x, &mut next_g);
            // Armijo: enough decrease for the step taken.
            if next_f <= f + 1e-4 * f64::from(step) * slope || step < 1e-6 {
                break;
            }
            step *= 0.5;
        }
        let s: Vec<f32> = next_x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f32> = next_g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-10 {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / sy));
        }
        let gain = (f - next_f).abs() / f.abs().max(1.0);
        std::mem::swap(&mut x, &mut next_x);
        std::mem::swap(&mut g, &mut next_g);
        f = next_f;
        if norm(&g) <= TOLERANCE * g0 || gain < MIN_GAIN {
            break;
        }
    }
    let bias = x.split_off(features * classes);
    LinearModel::from_parts(classes, x, bias)
}

/// The L-BFGS two-loop recursion: −H·g with H from the kept pairs.
fn direction(g: &[f32], history: &VecDeque<(Vec<f32>, Vec<f32>, f64)>, g0: f64) -> Vec<f32> {
    let mut d: Vec<f32> = g.iter().map(|v| -v).collect();
    let mut alphas = Vec::with_capacity(history.len());
    for (s, y, rho) in history.iter().rev() {
        let a = rho * dot(s, &d);
        axpy(-a as f32, y, &mut d);
        alphas.push(a);
    }
    let scale = match history.back() {
        Some((s, y, _)) => dot(s, y) / dot(y, y),
        None => 1.0 / g0.max(1e-12),
    } as f32;
    d.iter_mut().for_each(|v| *v *= scale);
    for ((s, y, rho), a) in history.iter().zip(alphas.into_iter().rev()) {
        let b = rho * dot(y, &d);
        axpy((a - b) as f32, s, &mut d);
    }
    d
}

/// The objective at `x` (weights feature-major, then the biases); its
/// gradient into `g`.
fn objective(problem: &Problem, c: f32, x: &[f32], g: &mut [f32]) -> f64 {
    let k = problem.classes;
    let (w, b) = x.split_at(problem.features * k);
    let (gw, gb) = g.split_at_mut(problem.features * k);
    let mut f = 0.5 * dot(w, w);
    gw.copy_from_slice(w);
    gb.fill(0.0);
    let mut p = vec![0.0f32; k];
    for ((xi, &yi), &weight) in problem.xs.iter().zip(problem.ys).zip(problem.weights) {
        p.copy_from_slice(b);
        for (&feature, &v) in xi.indices.iter().zip(&xi.values) {
            let row = &w[feature as usize * k..(feature as usize + 1) * k];
            p.iter_mut().zip(row).for_each(|(o, wv)| *o += v * wv);
        }
        let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut z = 0.0f64;
        for v in p.iter_mut() {
            *v = (*v - max).exp();
            z += f64::from(*v);
        }
        let scale = c * weight;
        f += f64::from(scale) * (z.ln() - f64::from(p[yi]).ln());
        // ∂/∂score = scale · (probability − [label is right]).
        for (j, v) in p.iter_mut().enumerate() {
            *v = scale * ((f64::from(*v) / z) as f32 - if j == yi { 1.0 } else { 0.0 });
        }
        for (&feature, &v) in xi.indices.iter().zip(&xi.values) {
            let row = &mut gw[feature as usize * k..(feature as usize + 1) * k];
            row.iter_mut().zip(&p).for_each(|(o, pj)| *o += v * pj);
        }
        gb.iter_mut().zip(&p).for_each(|(o, pj)| *o += pj);
    }
    f
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(x).for_each(|(yi, xi)| *yi += a * xi);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::vectorizer::Sparse;

    fn sparse(pairs: &[(u32, f32)]) -> Sparse {
        Sparse {
            indices: pairs.iter().map(|p| p.0).collect(),
            values: pairs.iter().map(|p| p.1).collect(),
        }
    }

    /// Runs `check` on a small three-label problem.
    fn with_toy(check: impl FnOnce(&Problem)) {
        let xs = vec![
            sparse(&[(0, 1.0), (3, 0.5)]),
            sparse(&[(0, 0.8), (2, 0.3)]),
            sparse(&[(1, 1.0)]),
            sparse(&[(1, 0.7), (3, 0.7)]),
            sparse(&[(2, 1.0)]),
            sparse(&[(2, 0.9), (0, 0.2)]),
        ];
        check(&Problem {
            xs: &xs,
            ys: &[0, 0, 1, 1, 2, 2],
            weights: &[1.0, 2.0, 1.0, 1.0, 0.5, 1.0],
            classes: 3,
            features: 4,
        });
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        with_toy(|problem| {
            let x: Vec<f32> = (0..15)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0)
                .collect();
            let mut g = vec![0.0; 15];
            objective(problem, 3.0, &x, &mut g);
            let mut scratch = vec![0.0; 15];
            for i in 0..15 {
                let h = 1e-2f32;
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += h;
                down[i] -= h;
                let numeric = (objective(problem, 3.0, &up, &mut scratch)
                    - objective(problem, 3.0, &down, &mut scratch))
                    / (2.0 * f64::from(h));
                assert!(
                    (numeric - f64::from(g[i])).abs() < 1e-2 * (1.0 + numeric.abs()),
                    "coordinate {i}: numeric {numeric}, analytic {}",
                    g[i]
                );
            }
        });
    }

    #[test]
    fn a_trained_model_ranks_each_training_example_first_for_its_label() {
        with_toy(|problem| {
            let model = train(problem, 100.0);
            for (x, &y) in problem.xs.iter().zip(problem.ys) {
                let scores = model.scores(x);
                let best = (0..3).max_by(|&a, &b| scores[a].total_cmp(&scores[b]));
                assert_eq!(best, Some(y), "{scores:?}");
            }
        });
    }
}
