//! The linear model: with enough examples of every label, a one-vs-rest
//! linear SVM (squared hinge loss) trained by dual coordinate descent, as
//! in LIBLINEAR (Hsieh et al., ICML 2008), with its shrinking; with few,
//! the softmax model of `softmax.rs`.
//!
//! Dual CD needs no learning rate and converges in a few passes on sparse
//! text, which is what keeps a 10k-example retrain to seconds.

use serde::{Deserialize, Serialize};

use super::vectorizer::Sparse;
use crate::split::Rng;

/// Knobs of the linear model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearConfig {
    /// Inverse regularisation strength of the one-vs-rest SVM.
    pub c: f32,
    /// Inverse regularisation strength of the softmax model.
    pub softmax_c: f32,
    /// Train the softmax model instead of the SVM when some label has
    /// fewer examples than this (0: never). With few examples per label it
    /// generalises better; with many, the SVM is as good and trains in a
    /// fraction of the time.
    pub softmax_below: usize,
    /// Stop when the projected-gradient spread falls below this.
    pub epsilon: f32,
    pub max_epochs: usize,
}

impl Default for LinearConfig {
    fn default() -> Self {
        Self {
            c: 1.0,
            softmax_c: 100.0,
            softmax_below: 20,
            epsilon: 0.1,
            max_epochs: 200,
        }
    }
}

impl LinearConfig {
    fn wants_softmax(&self, ys: &[usize], classes: usize) -> bool {
        let mut counts = vec![0usize; classes];
        for &y in ys {
            counts[y] += 1;
        }
        counts.iter().any(|&n| n < self.softmax_below)
    }

    /// This config with the choice between the models made once, for the
    /// whole training set: the models trained on parts of it (to choose α,
    /// fit the temperature and threshold) are then of the same kind as
    /// the one trained on all of it.
    pub(super) fn decided_for(&self, ys: &[usize], classes: usize) -> Self {
        Self {
            softmax_below: if self.wants_softmax(ys, classes) {
                usize::MAX
            } else {
                0
            },
            ..self.clone()
        }
    }
}

/// A training set in vector form.
pub struct Problem<'a> {
    pub xs: &'a [Sparse],
    /// The class of each example.
    pub ys: &'a [usize],
    /// Scales the cost of getting each example wrong.
    pub weights: &'a [f32],
    pub classes: usize,
    pub features: usize,
}

/// Weights stored feature-major (one row of class weights per feature), so a
/// sparse message touches a few contiguous rows when it is scored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearModel {
    classes: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl LinearModel {
    /// The softmax model when some class has fewer than
    /// `config.softmax_below` examples, else one binary SVM per class;
    /// `ys[i]` is the class of `xs[i]`.
    pub fn train(problem: &Problem, config: &LinearConfig, seed: u64, threads: usize) -> Self {
        if config.wants_softmax(problem.ys, problem.classes) {
            return super::softmax::train(problem, config.softmax_c);
        }
        Self::one_vs_rest(problem, config, seed, threads)
    }

    pub(super) fn from_parts(classes: usize, weights: Vec<f32>, bias: Vec<f32>) -> Self {
        Self {
            classes,
            weights,
            bias,
        }
    }

    fn one_vs_rest(problem: &Problem, config: &LinearConfig, seed: u64, threads: usize) -> Self {
        let (classes, features) = (problem.classes, problem.features);
        let threads = threads.clamp(1, classes.max(1));
        let mut per_class: Vec<(Vec<f32>, f32)> = vec![(Vec::new(), 0.0); classes];
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        (t..classes)
                            .step_by(threads)
                            .map(|c| (c, binary(problem, c, config, seed)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for handle in handles {
                for (c, wb) in handle.join().expect("training thread panicked") {
                    per_class[c] = wb;
                }
            }
        });
        let mut weights = vec![0.0; features * classes];
        let mut bias = vec![0.0; classes];
        for (c, (w, b)) in per_class.into_iter().enumerate() {
            for (f, v) in w.into_iter().enumerate() {
                weights[f * classes + c] = v;
            }
            bias[c] = b;
        }
        Self {
            classes,
            weights,
            bias,
        }
    }

    /// Raw decision values, one per class.
    pub fn scores(&self, x: &Sparse) -> Vec<f32> {
        let mut out = self.bias.clone();
        for (&f, &v) in x.indices.iter().zip(&x.values) {
            let row = &self.weights[f as usize * self.classes..(f as usize + 1) * self.classes];
            for (o, w) in out.iter_mut().zip(row) {
                *o += v * w;
            }
        }
        out
    }
}

fn dot(w: &[f32], x: &Sparse) -> f32 {
    x.indices
        .iter()
        .zip(&x.values)
        .map(|(&f, &v)| w[f as usize] * v)
        .sum()
}

/// One class against the rest; returns weights and bias.
fn binary(problem: &Problem, class: usize, config: &LinearConfig, seed: u64) -> (Vec<f32>, f32) {
    let (xs, ys, weights) = (problem.xs, problem.ys, problem.weights);
    let features = problem.features;
    let n = xs.len();
    let mut w = vec![0.0f32; features];
    let mut bias = 0.0f32;
    let mut alpha = vec![0.0f32; n];
    // Squared hinge: the dual has no upper bound and a 1/(2C) diagonal.
    let diag: Vec<f32> = weights.iter().map(|w| 0.5 / (config.c * w)).collect();
    // The bias is an extra feature fixed at 1, hence the + 1.
    let q: Vec<f32> = xs
        .iter()
        .zip(&diag)
        .map(|(x, d)| x.squared_norm() + 1.0 + d)
        .collect();
    let y: Vec<f32> = ys
        .iter()
        .map(|&l| if l == class { 1.0 } else { -1.0 })
        .collect();
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut rng = Rng::new(seed ^ (class as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut pg_max_old = f32::INFINITY;
    for _ in 0..config.max_epochs {
        rng.shuffle(&mut index[..active]);
        let (mut pg_max, mut pg_min) = (f32::NEG_INFINITY, f32::INFINITY);
        let mut s = 0;
        while s < active {
            let i = index[s];
            let g = y[i] * (dot(&w, &xs[i]) + bias) - 1.0 + diag[i] * alpha[i];
            let mut pg = g;
            if alpha[i] == 0.0 {
                if g > pg_max_old {
                    // Shrink: this example is safely outside the margin.
                    active -= 1;
                    index.swap(s, active);
                    continue;
                }
                pg = g.min(0.0);
            }
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / q[i]).max(0.0);
                let step = (alpha[i] - old) * y[i];
                for (&f, &v) in xs[i].indices.iter().zip(&xs[i].values) {
                    w[f as usize] += step * v;
                }
                bias += step;
            }
            s += 1;
        }
        if pg_max - pg_min <= config.epsilon {
            if active == n {
                break;
            }
            // Converged on the shrunk set: check once more on everything.
            active = n;
            pg_max_old = f32::INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f32::INFINITY } else { pg_max };
    }
    (w, bias)
}
