//! Context budgets: a lookup or the whole context cut down to a byte size,
//! keeping as much as possible (long strings are shortened, arrays lose
//! their tail, objects their largest members) rather than dropped whole.

use serde_json::{Map, Value};

/// Serialised size in bytes.
pub fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

/// Shrinks `v` to at most `max` bytes; `Some((before, after))` if it had to.
pub fn fit(v: &mut Value, max: usize) -> Option<(usize, usize)> {
    let before = size(v);
    if before <= max {
        return None;
    }
    shrink(v, max);
    Some((before, size(v)))
}

/// Shrinks the largest lookups until the context fits `max` bytes; returns
/// `(lookup, before, after)` for each one cut.
pub fn fit_total(context: &mut Map<String, Value>, max: usize) -> Vec<(String, usize, usize)> {
    let mut cut = Vec::new();
    loop {
        let total = size(&Value::Object(context.clone()));
        if total <= max {
            return cut;
        }
        let Some((name, largest)) = context
            .iter()
            .map(|(k, v)| (k.clone(), size(v)))
            .max_by_key(|(_, s)| *s)
        else {
            return cut;
        };
        if largest <= NULL_BYTES {
            // Only the names are left and they alone exceed the budget.
            return cut;
        }
        let value = context.get_mut(&name).expect("listed");
        shrink(value, largest.saturating_sub(total - max));
        cut.push((name, largest, size(value)));
    }
}

const NULL_BYTES: usize = 4;
const ELLIPSIS: char = '…';

fn shrink(v: &mut Value, max: usize) {
    loop {
        let now = size(v);
        if now <= max {
            return;
        }
        let over = now - max;
        match v {
            Value::String(s) => {
                let keep = s.len().saturating_sub(over + ELLIPSIS.len_utf8());
                let mut end = keep.min(s.len());
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                if end == 0 {
                    *v = Value::Null;
                    return;
                }
                s.truncate(end);
                s.push(ELLIPSIS);
            }
            Value::Array(items) => {
                if items.pop().is_none() {
                    *v = Value::Null;
                    return;
                }
            }
            Value::Object(members) => {
                let Some((key, child_size)) = members
                    .iter()
                    .map(|(k, v)| (k.clone(), size(v)))
                    .max_by_key(|(_, s)| *s)
                else {
                    *v = Value::Null;
                    return;
                };
                let child = members.get_mut(&key).expect("listed");
                if child_size > over + NULL_BYTES {
                    shrink(child, child_size - over);
                }
                if size(child) >= child_size {
                    members.remove(&key);
                }
            }
            _ => {
                *v = Value::Null;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_long_string_member_is_shortened_not_dropped() {
        let mut v = json!({ "plan": "gold", "notes": "x".repeat(500) });
        let (before, after) = fit(&mut v, 100).expect("cut");
        assert!(before > 500 && after <= 100, "{before} → {after}");
        assert_eq!(v["plan"], "gold");
        assert!(v["notes"].as_str().unwrap().ends_with('…'));
    }

    #[test]
    fn arrays_lose_their_tail() {
        let mut v = json!((0..100).collect::<Vec<_>>());
        fit(&mut v, 20).expect("cut");
        assert!(size(&v) <= 20);
        assert_eq!(v[0], 0);
    }

    #[test]
    fn what_fits_is_untouched() {
        let mut v = json!({ "a": 1 });
        assert_eq!(fit(&mut v, 100), None);
        assert_eq!(v, json!({ "a": 1 }));
    }

    #[test]
    fn the_total_budget_cuts_the_largest_lookup() {
        let mut context = Map::new();
        context.insert("small".into(), json!({ "tier": 1 }));
        context.insert("big".into(), json!({ "text": "y".repeat(1000) }));
        let cut = fit_total(&mut context, 200);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].0, "big");
        assert!(size(&Value::Object(context.clone())) <= 200);
        assert_eq!(context["small"], json!({ "tier": 1 }));
    }
}
