//! Measuring the classifier: data loading, splits, metrics, curves, plots.

mod data;
pub(crate) mod metrics;
mod plot;
mod run;

pub use data::{read_examples, read_label_map, relabel, DataError, MapError};
pub use metrics::{Confusion, CoveragePoint, LabelScore, Metrics, Outcome};
pub use plot::{coverage_chart, learning_chart, Chart, Series};
pub use run::{
    cross_validate, learning_curve, split_fold, train_test, EvalConfig, EvalReport, LearningCurve,
    LearningPoint, Progress,
};
