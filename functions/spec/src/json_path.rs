//! JSONPath parsing for every path a spec names (trigger fields, delivery
//! ids, lookup answers), through one door.
//!
//! serde_json_path 0.7.2 panics ("we do not use streaming parsers") on a
//! path that ends inside a quoted name's `\u` escape: one of its string
//! parsers is nom's streaming kind and answers `Incomplete` there. No valid
//! path ends inside a quoted name, so such a path is refused before the
//! parser sees it.

use serde_json_path::JsonPath;

/// `path` parsed, or why it is not a JSONPath.
pub fn parse_json_path(path: &str) -> Result<JsonPath, String> {
    if ends_inside_quotes(path) {
        return Err("a quoted name is not closed".into());
    }
    JsonPath::parse(path).map_err(|e| e.to_string())
}

/// Whether a `'…'` or `"…"` is still open at the end (a backslash escapes
/// the character after it). Quotes only ever delimit names and strings in
/// a JSONPath, so this follows the grammar without parsing it.
fn ends_inside_quotes(path: &str) -> bool {
    let mut open: Option<char> = None;
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match (open, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => open = None,
            (None, '\'' | '"') => open = Some(c),
            _ => {}
        }
    }
    open.is_some()
}

#[cfg(test)]
mod tests {
    use super::parse_json_path;

    #[test]
    fn a_path_ending_inside_an_escape_is_refused_not_a_panic() {
        // The fuzzer's input, and the other places an escape can be cut.
        for path in [
            "$[\"\\u0014r\\u0000#\\u",
            "$['\\u",
            "$[\"\\uD",
            "$[\"\\uD83D\\u",
            "$[\"\\uD83D\\uD",
            "$['a",
        ] {
            let refused = parse_json_path(path);
            assert!(refused.is_err(), "{path}");
        }
    }

    #[test]
    fn valid_paths_still_parse() {
        for path in [
            "$.ticket.id",
            "$['a b']",
            "$[\"it's\"]",
            "$['it\\'s']",
            "$[\"\\u00e9\"]",
            "$.items[?@.name == 'x']",
        ] {
            assert!(parse_json_path(path).is_ok(), "{path}");
        }
    }
}
