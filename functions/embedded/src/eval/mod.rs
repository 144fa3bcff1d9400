//! Measuring the classifier: data loading, splits, metrics, curves, plots.

mod data;

pub use data::{read_examples, DataError};
