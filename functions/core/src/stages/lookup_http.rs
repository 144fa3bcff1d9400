//! One `kind: http` context lookup: render the URL, add the auth header from
//! the secrets store, GET, map the JSON answer with JSONPath. A lookup that
//! answered is stored under the run, so a retried stage reuses it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use handoff_spec::HttpLookup;

use crate::domain::RunId;
use crate::ports::*;
use crate::stages::{budget, render, StageError};

pub struct Found {
    /// Cut down to the limit `fetch` was given.
    pub value: Value,
    /// The mapped answer's size before the cut.
    pub original_bytes: usize,
    /// Taken from the run's earlier attempt; no request was made.
    pub cached: bool,
}

/// `Ok(Err(reason))` is a failed lookup, for its failure policy to judge;
/// `Err` is the run store failing. The answer is cut to `limit` bytes
/// before it is stored, so a large response never reaches the run store.
pub async fn fetch(
    store: &dyn RunStore,
    fetcher: &dyn Fetcher,
    secrets: &dyn Secrets,
    run_id: &RunId,
    lookup: &HttpLookup,
    url_data: &Value,
    limit: usize,
) -> Result<Result<Found, String>, StageError> {
    let slot = Slot::Lookup(lookup.name.clone());
    if let Some(stored) = store.get_slot(run_id, &slot).await? {
        return Ok(Ok(Found {
            original_bytes: stored["bytes"].as_u64().unwrap_or_default() as usize,
            value: stored.get("value").cloned().unwrap_or(Value::Null),
            cached: true,
        }));
    }
    let mut value = match call(fetcher, secrets, lookup, url_data).await {
        Ok(v) => v,
        Err(reason) => return Ok(Err(reason)),
    };
    let original_bytes = budget::size(&value);
    budget::fit(&mut value, limit);
    store
        .put_slot(
            run_id,
            &slot,
            &serde_json::json!({ "value": value, "bytes": original_bytes }),
        )
        .await?;
    Ok(Ok(Found {
        value,
        original_bytes,
        cached: false,
    }))
}

async fn call(
    fetcher: &dyn Fetcher,
    secrets: &dyn Secrets,
    lookup: &HttpLookup,
    url_data: &Value,
) -> Result<Value, String> {
    let url = render::render_url(
        &format!("lookup `{}` url", lookup.name),
        &lookup.url,
        url_data,
    )
    .map_err(|e| e.to_string())?;
    let mut headers = BTreeMap::from([("accept".to_string(), "application/json".to_string())]);
    if let Some(auth) = &lookup.auth {
        let secret = secrets.get(&auth.secret).await.map_err(|e| e.to_string())?;
        headers.insert(
            auth.header.to_ascii_lowercase(),
            format!("{}{}", auth.prefix, secret.current),
        );
    }
    let response = fetcher
        .get(&FetchRequest {
            url,
            headers,
            timeout: Duration::from_millis(lookup.timeout_ms),
            max_body_bytes: MAX_RESPONSE_BYTES,
        })
        .await
        .map_err(|e| e.to_string())?;
    if !(200..300).contains(&response.status) {
        return Err(format!("status {}", response.status));
    }
    let body: Value =
        serde_json::from_slice(&response.body).map_err(|e| format!("response is not JSON: {e}"))?;
    map_fields(&lookup.fields, &body)
}

/// No mapping keeps the whole answer; each mapped path gives its single
/// match, an array for several, or null for none.
fn map_fields(fields: &BTreeMap<String, String>, body: &Value) -> Result<Value, String> {
    if fields.is_empty() {
        return Ok(body.clone());
    }
    let mut out = Map::new();
    for (field, path) in fields {
        let path = handoff_spec::parse_json_path(path).map_err(|e| format!("`{field}`: {e}"))?;
        let nodes = path.query(body).all();
        let value = match nodes.as_slice() {
            [] => Value::Null,
            [one] => (*one).clone(),
            many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
        };
        out.insert(field.clone(), value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_map_one_match_many_or_none() {
        let body = json!({ "data": { "plan": "gold", "tags": [{"n": "a"}, {"n": "b"}] } });
        let fields = BTreeMap::from([
            ("plan".to_string(), "$.data.plan".to_string()),
            ("tags".to_string(), "$.data.tags[*].n".to_string()),
            ("missing".to_string(), "$.nope".to_string()),
        ]);
        assert_eq!(
            map_fields(&fields, &body).unwrap(),
            json!({ "plan": "gold", "tags": ["a", "b"], "missing": null })
        );
    }
}
