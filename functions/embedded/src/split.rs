//! Deterministic sampling: stratified folds and n-per-label draws.
//!
//! Everything here is driven by a seeded SplitMix64 so that a run is
//! reproducible across machines and crate versions.

use std::collections::BTreeMap;

/// SplitMix64: tiny, fast, and stable forever (unlike a crate's default RNG).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant at our sizes.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Indices grouped by label, labels in sorted order, indices in input order.
pub fn by_label<'a>(labels: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, Vec<usize>> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, label) in labels.enumerate() {
        groups.entry(label).or_default().push(i);
    }
    groups
}

/// Assigns each example a fold in `0..k` so that every label is spread as
/// evenly as possible over the folds.
pub fn stratified_folds<'a>(
    labels: impl Iterator<Item = &'a str>,
    k: usize,
    seed: u64,
) -> Vec<usize> {
    let groups = shuffled_by_label(labels, seed);
    let n = groups.iter().map(Vec::len).sum();
    let mut fold = vec![0; n];
    // Rotating the starting fold per label keeps fold sizes balanced when
    // many labels have a count that k does not divide.
    let mut offset = 0;
    for members in &groups {
        for (j, &i) in members.iter().enumerate() {
            fold[i] = (offset + j) % k.max(1);
        }
        offset += members.len();
    }
    fold
}

/// Up to `n` indices per label, drawn without replacement; returned sorted.
pub fn sample_per_label<'a>(
    labels: impl Iterator<Item = &'a str>,
    n: usize,
    seed: u64,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = shuffled_by_label(labels, seed)
        .into_iter()
        .flat_map(|members| members.into_iter().take(n))
        .collect();
    chosen.sort_unstable();
    chosen
}

/// [`by_label`]'s groups, each shuffled by one generator seeded with `seed`.
fn shuffled_by_label<'a>(labels: impl Iterator<Item = &'a str>, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = Rng::new(seed);
    by_label(labels)
        .into_values()
        .map(|mut members| {
            rng.shuffle(&mut members);
            members
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_spread_each_label_evenly() {
        let labels: Vec<&str> = (0..30)
            .map(|i| if i % 3 == 0 { "a" } else { "b" })
            .collect();
        let fold = stratified_folds(labels.iter().copied(), 5, 7);
        for f in 0..5 {
            let a = (0..30)
                .filter(|&i| fold[i] == f && labels[i] == "a")
                .count();
            let b = (0..30)
                .filter(|&i| fold[i] == f && labels[i] == "b")
                .count();
            assert_eq!((a, b), (2, 4));
        }
    }

    #[test]
    fn sampling_takes_n_of_each_label_or_all_it_has() {
        let labels = ["a", "a", "a", "b", "c", "c"];
        let picked = sample_per_label(labels.iter().copied(), 2, 1);
        let count = |l: &str| picked.iter().filter(|&&i| labels[i] == l).count();
        assert_eq!((count("a"), count("b"), count("c")), (2, 1, 2));
    }
}
