//! Text to sparse feature vector: word and character n-grams, hashed.
//!
//! N-grams are hashed with FNV-1a rather than `std`'s `RandomState` so that a
//! feature's identity is the same in every process: a model trained at build
//! time must read the same features at run time.

use serde::{Deserialize, Serialize};

/// Which n-grams a message is cut into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Word n-gram lengths, inclusive (e.g. 1..=2: unigrams and bigrams).
    pub word_ngrams: (usize, usize),
    /// Character n-gram lengths inside word boundaries, inclusive.
    pub char_ngrams: (usize, usize),
    /// Weight of the word block relative to the character block; each block
    /// is L2-normalised on its own before this weight applies.
    pub word_weight: f32,
    /// Character n-grams run across word boundaries too, so they also see
    /// the start of the next word.
    pub char_across_words: bool,
    /// Unordered pairs of words at most this far apart (0: none), so the
    /// model can see two words together without them being adjacent.
    pub pair_window: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            word_ngrams: (1, 2),
            char_ngrams: (2, 5),
            word_weight: 1.0,
            char_across_words: false,
            // Measured on BANKING77 5-fold: +0.4 points full data, +0.8 at
            // 10 per label; a window keeps long e-mails from going quadratic.
            pair_window: 20,
        }
    }
}

const WORD_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const PAIR_SEED: u64 = 0x1656_67b1_9e37_79f9;
const CHAR_SEED: u64 = 0xc2b2_ae3d_27d4_eb4f;

fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    fnv1a_parts(seed, &[bytes])
}

/// FNV-1a of the parts' concatenation, without building it: the same hash
/// as `fnv1a` of the joined bytes, so features keep their identity.
fn fnv1a_parts(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ seed;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Lower-cases and keeps letters and digits; apostrophes vanish so that
/// "don't" and "dont" are the same word, everything else separates words.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            current.extend(ch.to_lowercase());
        } else if ch == '\'' || ch == '’' {
            continue;
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A message's n-gram hashes with their counts, in two blocks.
#[derive(Debug, Default)]
pub struct Grams {
    pub word: Vec<(u64, f32)>,
    pub char: Vec<(u64, f32)>,
}

/// Cuts a message into hashed n-grams with raw counts, sorted by hash.
pub fn grams(text: &str, config: &FeatureConfig) -> Grams {
    let words = words(text);
    let mut word = Vec::new();
    let (lo, hi) = config.word_ngrams;
    if lo > 0 {
        for n in lo..=hi {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * n);
            for window in words.windows(n) {
                parts.clear();
                for (i, w) in window.iter().enumerate() {
                    if i > 0 {
                        parts.push(b" ");
                    }
                    parts.push(w.as_bytes());
                }
                word.push(fnv1a_parts(WORD_SEED ^ n as u64, &parts));
            }
        }
    }
    for (i, a) in words.iter().enumerate() {
        for b in words
            .iter()
            .skip(i + 2)
            .take(config.pair_window.saturating_sub(1))
        {
            let (x, y) = if a <= b { (a, b) } else { (b, a) };
            word.push(fnv1a_parts(
                PAIR_SEED,
                &[x.as_bytes(), b"\x01", y.as_bytes()],
            ));
        }
    }
    let mut char = Vec::new();
    let (lo, hi) = config.char_ngrams;
    if lo > 0 && config.char_across_words {
        let joined = format!(" {} ", words.join(" "));
        let chars: Vec<char> = joined.chars().collect();
        let mut buf = String::new();
        for n in lo..=hi.min(chars.len()) {
            for window in chars.windows(n) {
                buf.clear();
                buf.extend(window);
                char.push(fnv1a(CHAR_SEED, buf.as_bytes()));
            }
        }
    } else if lo > 0 {
        for w in &words {
            let padded: Vec<char> = std::iter::once(' ')
                .chain(w.chars())
                .chain(std::iter::once(' '))
                .collect();
            let mut buf = String::new();
            for n in lo..=hi.min(padded.len()) {
                for window in padded.windows(n) {
                    buf.clear();
                    buf.extend(window);
                    char.push(fnv1a(CHAR_SEED, buf.as_bytes()));
                }
            }
        }
    }
    Grams {
        word: count(word),
        char: count(char),
    }
}

fn count(mut hashes: Vec<u64>) -> Vec<(u64, f32)> {
    hashes.sort_unstable();
    let mut out: Vec<(u64, f32)> = Vec::with_capacity(hashes.len());
    for h in hashes {
        match out.last_mut() {
            Some((last, n)) if *last == h => *n += 1.0,
            _ => out.push((h, 1.0)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_in_parts_equals_hashing_the_joined_bytes() {
        assert_eq!(
            fnv1a_parts(PAIR_SEED, &[b"card", b"\x01", b"lost"]),
            fnv1a(PAIR_SEED, "card\u{1}lost".as_bytes())
        );
        assert_eq!(
            fnv1a_parts(WORD_SEED, &[b"my", b" ", b"card"]),
            fnv1a(WORD_SEED, b"my card")
        );
    }

    #[test]
    fn apostrophes_join_and_punctuation_splits() {
        assert_eq!(
            words("Don't PANIC, it's ok!"),
            ["dont", "panic", "its", "ok"]
        );
    }

    #[test]
    fn repeated_ngrams_are_counted_once_with_their_count() {
        let config = FeatureConfig {
            word_ngrams: (1, 1),
            char_ngrams: (0, 0),
            word_weight: 1.0,
            char_across_words: false,
            pair_window: 0,
        };
        let g = grams("card card card", &config);
        assert_eq!(g.word.len(), 1);
        assert_eq!(g.word[0].1, 3.0);
        assert!(g.char.is_empty());
    }
}
