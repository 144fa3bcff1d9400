//! Reading `text,category` CSV files.

use std::path::Path;

use crate::classifier::Example;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: csv::Error },
    #[error("{path}: expected columns `text` and `category` (or `label`)")]
    Columns { path: String },
}

/// Reads a CSV with a header naming a `text` column and a `category` or
/// `label` column, in any order.
pub fn read_examples(path: &Path) -> Result<Vec<Example>, DataError> {
    let shown = path.display().to_string();
    let read_err = |source| DataError::Read {
        path: shown.clone(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(read_err)?;
    let headers = reader.headers().map_err(read_err)?.clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.trim().to_lowercase().as_str()))
    };
    let (Some(text), Some(label)) = (column(&["text"]), column(&["category", "label"])) else {
        return Err(DataError::Columns { path: shown });
    };
    let mut examples = Vec::new();
    for record in reader.records() {
        let record = record.map_err(read_err)?;
        examples.push(Example::new(
            record.get(text).unwrap_or_default(),
            record.get(label).unwrap_or_default(),
        ));
    }
    Ok(examples)
}
