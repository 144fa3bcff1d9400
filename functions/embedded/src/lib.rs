//! The embedded model of the AI step: a weights-free text classifier that
//! trains in seconds, typed field extraction by patterns, and the
//! evaluation that measures both.

pub mod classifier;
pub mod eval;
pub mod extract;
pub mod split;
pub mod summarize;

pub use classifier::{
    Classifier, ClassifierError, Example, Prediction, Ranked, TrainConfig, TrainingSet,
};
pub use extract::{extract, Extractor, Field, FieldValue};
pub use summarize::summarize;
