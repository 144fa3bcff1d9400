//! Reading `text,category` CSV files.

use std::collections::BTreeMap;
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
    let rows = read_columns(path, &["text"], &["category", "label"])
        .map_err(|source| DataError::Read {
            path: shown.clone(),
            source,
        })?
        .ok_or(DataError::Columns { path: shown })?;
    Ok(rows
        .into_iter()
        .map(|(text, label)| Example::new(text, label))
        .collect())
}

/// The values of two columns, each found by any of its header names
/// (trimmed, case-insensitive), row by row; `None` if a column is missing.
fn read_columns(
    path: &Path,
    first: &[&str],
    second: &[&str],
) -> Result<Option<Vec<(String, String)>>, csv::Error> {
    let mut reader = csv::Reader::from_path(path)?;
    let headers = reader.headers()?.clone();
    let column = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&h.trim().to_lowercase().as_str()))
    };
    let (Some(a), Some(b)) = (column(first), column(second)) else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        let value = |i| record.get(i).unwrap_or_default().to_string();
        rows.push((value(a), value(b)));
    }
    Ok(Some(rows))
}

/// Why a label map could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: csv::Error },
    #[error("{path}: expected columns `intent` and `label`")]
    Columns { path: String },
    #[error("{path}: `{intent}` is mapped twice")]
    Duplicate { path: String, intent: String },
    #[error("category `{category}` is not in the label map")]
    Unmapped { category: String },
}

/// Reads an `intent,label` CSV: each dataset category to the label a
/// workflow declares for it.
pub fn read_label_map(path: &Path) -> Result<BTreeMap<String, String>, MapError> {
    let shown = path.display().to_string();
    let rows = read_columns(path, &["intent"], &["label"])
        .map_err(|source| MapError::Read {
            path: shown.clone(),
            source,
        })?
        .ok_or_else(|| MapError::Columns {
            path: shown.clone(),
        })?;
    let mut map = BTreeMap::new();
    for (intent, label) in rows {
        let key = intent.trim().to_string();
        if map.insert(key.clone(), label.trim().to_string()).is_some() {
            return Err(MapError::Duplicate {
                path: shown,
                intent: key,
            });
        }
    }
    Ok(map)
}

/// Replaces every example's label by what `map` maps it to; a category the
/// map does not name is an error rather than a silently dropped example.
pub fn relabel(
    examples: Vec<Example>,
    map: &BTreeMap<String, String>,
) -> Result<Vec<Example>, MapError> {
    examples
        .into_iter()
        .map(|e| match map.get(&e.label) {
            Some(label) => Ok(Example::new(e.text, label.clone())),
            None => Err(MapError::Unmapped { category: e.label }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabel_maps_every_example_and_names_an_unmapped_category() {
        let map = BTreeMap::from([("card_arrival".to_string(), "card_problem".to_string())]);
        let mapped = relabel(vec![Example::new("where is my card", "card_arrival")], &map).unwrap();
        assert_eq!(
            mapped,
            vec![Example::new("where is my card", "card_problem")]
        );
        let err = relabel(vec![Example::new("pin?", "change_pin")], &map).unwrap_err();
        assert_eq!(
            err.to_string(),
            "category `change_pin` is not in the label map"
        );
    }
}
