//! Vocabulary and TF-IDF weighting: n-gram hashes to a sparse unit vector.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::features::{grams, FeatureConfig};

/// A sparse vector, indices strictly increasing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparse {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Sparse {
    pub fn squared_norm(&self) -> f32 {
        self.values.iter().map(|v| v * v).sum()
    }
}

/// The features seen in training with their inverse document frequency.
///
/// Word and character hashes share one sorted table; index = position, so the
/// artifact is a plain list. Lookups go through an open-addressing index
/// built from that list on first use and never stored: a long message has
/// a couple of thousand n-grams, and a binary search over a vocabulary of
/// this size costs some twenty cache misses each.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vectorizer {
    config: FeatureConfig,
    hashes: Vec<u64>,
    idf: Vec<f32>,
    #[serde(skip)]
    index: OnceLock<Index>,
}

/// Slots hold position + 1 in `hashes` (0: empty), probed linearly from a
/// slot picked by the top bits of a multiplicative hash of the n-gram hash.
#[derive(Debug, Clone)]
struct Index {
    slots: Vec<u32>,
    shift: u32,
}

impl Index {
    fn build(hashes: &[u64]) -> Self {
        let bits = (hashes.len().max(1) * 2)
            .next_power_of_two()
            .trailing_zeros()
            .max(4);
        let mut index = Self {
            slots: vec![0; 1 << bits],
            shift: 64 - bits,
        };
        let mask = index.slots.len() - 1;
        for (i, &h) in hashes.iter().enumerate() {
            let mut slot = index.home(h);
            while index.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            index.slots[slot] = i as u32 + 1;
        }
        index
    }

    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    fn find(&self, hashes: &[u64], hash: u64) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut slot = self.home(hash);
        loop {
            match self.slots[slot] {
                0 => return None,
                n if hashes[n as usize - 1] == hash => return Some(n as usize - 1),
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

const WORD_TAG: u64 = 1;

fn tagged(hash: u64, word: bool) -> u64 {
    // The low bit tells word grams from character grams so the two blocks can
    // never collide.
    (hash & !1) | if word { WORD_TAG } else { 0 }
}

impl Vectorizer {
    /// Learns the vocabulary and IDF from training texts; features seen in
    /// fewer than `min_df` texts are dropped.
    pub fn fit<'a>(
        texts: impl Iterator<Item = &'a str>,
        config: &FeatureConfig,
        min_df: usize,
    ) -> Self {
        let mut all: Vec<u64> = Vec::new();
        let mut docs = 0usize;
        for text in texts {
            docs += 1;
            let g = grams(text, config);
            all.extend(g.word.iter().map(|(h, _)| tagged(*h, true)));
            all.extend(g.char.iter().map(|(h, _)| tagged(*h, false)));
        }
        all.sort_unstable();
        let mut hashes = Vec::new();
        let mut idf = Vec::new();
        let mut i = 0;
        while i < all.len() {
            let mut j = i;
            while j < all.len() && all[j] == all[i] {
                j += 1;
            }
            let df = j - i;
            if df >= min_df.max(1) {
                hashes.push(all[i]);
                // Smoothed IDF as in scikit-learn, so a feature in every text
                // still counts a little.
                idf.push(((1.0 + docs as f32) / (1.0 + df as f32)).ln() + 1.0);
            }
            i = j;
        }
        Self {
            config: config.clone(),
            hashes,
            idf,
            index: OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Sublinear TF times IDF, each block L2-normalised, then the whole.
    pub fn transform(&self, text: &str) -> Sparse {
        let g = grams(text, &self.config);
        let index = self.index.get_or_init(|| Index::build(&self.hashes));
        let mut pairs: Vec<(u32, f32)> = Vec::with_capacity(g.word.len() + g.char.len());
        let mut block = |items: &[(u64, f32)], word: bool, weight: f32| {
            let start = pairs.len();
            for (h, count) in items {
                if let Some(ix) = index.find(&self.hashes, tagged(*h, word)) {
                    pairs.push((ix as u32, (1.0 + count.ln()) * self.idf[ix]));
                }
            }
            let norm = pairs[start..]
                .iter()
                .map(|(_, v)| v * v)
                .sum::<f32>()
                .sqrt();
            if norm > 0.0 {
                for p in &mut pairs[start..] {
                    p.1 *= weight / norm;
                }
            }
        };
        block(&g.word, true, self.config.word_weight);
        block(&g.char, false, 1.0);
        pairs.sort_unstable_by_key(|p| p.0);
        // Two grams can share an index only if their tagged hashes collide,
        // which the index already merged; merge defensively anyway.
        let mut out = Sparse::default();
        for (ix, v) in pairs {
            if out.indices.last() == Some(&ix) {
                *out.values.last_mut().expect("non-empty") += v;
            } else {
                out.indices.push(ix);
                out.values.push(v);
            }
        }
        let norm = out.squared_norm().sqrt();
        if norm > 0.0 {
            for v in &mut out.values {
                *v /= norm;
            }
        }
        out
    }
}
