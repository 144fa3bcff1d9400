//! Embeddings by text, computed once: an evaluation trains many models on
//! the same texts, and a retrain after feedback meets mostly known ones.

use std::collections::HashMap;

use super::{Encoder, EncoderError};
use crate::classifier::Example;

#[derive(Debug, Default, Clone)]
pub struct EmbeddingTable {
    by_text: HashMap<String, Vec<f32>>,
}

impl EmbeddingTable {
    /// Embeds those of `texts` not in the table yet; `progress` gets
    /// (done, to do) after each batch.
    pub fn add<'a>(
        &mut self,
        encoder: &Encoder,
        texts: impl IntoIterator<Item = &'a str>,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<(), EncoderError> {
        let mut missing: Vec<&str> = texts
            .into_iter()
            .filter(|t| !self.by_text.contains_key(*t))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let total = missing.len();
        let embeddings = encoder.embed_all(&missing, |done| progress(done, total))?;
        self.by_text
            .extend(missing.into_iter().map(str::to_string).zip(embeddings));
        Ok(())
    }

    pub fn get(&self, text: &str) -> Option<&[f32]> {
        self.by_text.get(text).map(Vec::as_slice)
    }

    /// Each example's embedding, in order; `None` if one is not in the table.
    pub fn of_examples(&self, examples: &[Example]) -> Option<Vec<Vec<f32>>> {
        examples
            .iter()
            .map(|e| self.by_text.get(&e.text).cloned())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }
}
