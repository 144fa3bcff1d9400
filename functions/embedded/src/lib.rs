//! The embedded model of the AI step: a text classifier that trains in
//! seconds on n-grams fused with a small sentence encoder's embeddings (or
//! on n-grams alone, weights-free), typed field extraction by patterns, and
//! the evaluation that measures both.

pub mod classifier;
pub mod encoder;
pub mod eval;
pub mod extract;
pub mod split;
pub mod summarize;

pub use classifier::{
    Classifier, ClassifierError, Example, Prediction, Ranked, TrainConfig, TrainingSet,
};
pub use extract::{extract, Extractor, Field, FieldValue};
pub use summarize::summarize;
