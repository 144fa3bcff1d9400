//! The trigger's JSONPaths, parsed once per process: they come from the
//! specs (a handful), and parsing one cost more than querying it on every
//! webhook.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::Value;
use serde_json_path::JsonPath;

type Parsed = Option<Arc<JsonPath>>;

/// The first node `path` selects in `value`; `None` when it selects
/// nothing or is not a JSONPath (the spec validator refuses those).
pub(crate) fn first<'v>(path: &str, value: &'v Value) -> Option<&'v Value> {
    parsed(path)?.query(value).first()
}

/// Where the nodes `path` selects in `value` are, as JSON Pointers, in
/// order and each once; none when it is not a JSONPath.
pub(crate) fn pointers(path: &str, value: &Value) -> Vec<String> {
    let Some(path) = parsed(path) else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    path.query_located(value)
        .locations()
        .map(|l| l.to_json_pointer())
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

fn parsed(path: &str) -> Parsed {
    static PATHS: OnceLock<RwLock<HashMap<String, Parsed>>> = OnceLock::new();
    let paths = PATHS.get_or_init(Default::default);
    if let Some(p) = paths.read().expect("path cache").get(path) {
        return p.clone();
    }
    let p = handoff_spec::parse_json_path(path).ok().map(Arc::new);
    paths
        .write()
        .expect("path cache")
        .insert(path.to_string(), p.clone());
    p
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::first;

    #[test]
    fn a_path_selects_the_same_node_on_every_call() {
        let doc = json!({"a": {"b": [1, 2]}});
        for _ in 0..2 {
            assert_eq!(first("$.a.b[1]", &doc), Some(&json!(2)));
            assert_eq!(first("$.a.c", &doc), None);
            assert_eq!(first("not a path", &doc), None);
        }
    }

    #[test]
    fn pointers_name_each_selected_node_once() {
        let doc = json!({"a": [{"b": 1}, {"b": 2}], "c/d": 3});
        assert_eq!(super::pointers("$.a[*]", &doc), ["/a/0", "/a/1"]);
        assert_eq!(super::pointers("$.a[0,0,1]", &doc), ["/a/0", "/a/1"]);
        assert_eq!(super::pointers("$['c/d']", &doc), ["/c~1d"]);
        assert!(super::pointers("not a path", &doc).is_empty());
    }
}
