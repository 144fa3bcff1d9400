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
    let read_err = |source| MapError::Read {
        path: shown.clone(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(read_err)?;
    let headers = reader.headers().map_err(read_err)?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(intent), Some(label)) = (column("intent"), column("label")) else {
        return Err(MapError::Columns { path: shown });
    };
    let mut map = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(read_err)?;
        let key = record.get(intent).unwrap_or_default().trim().to_string();
        let value = record.get(label).unwrap_or_default().trim().to_string();
        if map.insert(key.clone(), value).is_some() {
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
