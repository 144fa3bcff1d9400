//! Documents a JSON payload links to: which links are taken, before anything
//! is fetched. Fetching them is the ingest stage's (it holds the client).

use handoff_spec::DocumentIntakeSpec;
use serde_json::Value;
use url::Url;

use super::attachments::string_member;
use super::BodyError;

/// A link to one document, allowed by the spec and not yet fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedDocument {
    /// Its index among the delivery's documents.
    pub index: usize,
    pub url: Url,
    /// The sender's file name: untrusted text.
    pub name: Option<String>,
    /// The sender's media type: untrusted, the bytes say what it is.
    pub declared_type: Option<String>,
}

/// The links of a JSON payload that `spec.urls` selects, numbered after the
/// `already` documents the delivery carries inline. Each item gains
/// `"document": <index>`, as an inline one does; its URL stays. An item
/// with no string at the URL member is left alone. A link that is not a URL
/// or not under an `allow` prefix refuses the delivery, as do too many
/// documents in all: nothing is fetched for a delivery that is refused.
pub fn take_linked_documents(
    spec: &DocumentIntakeSpec,
    payload: &mut Value,
    already: usize,
) -> Result<Vec<LinkedDocument>, BodyError> {
    let Some(urls) = &spec.urls else {
        return Ok(Vec::new());
    };
    let mut linked = Vec::new();
    for at in super::paths::pointers(&urls.items, payload) {
        let Some(Value::Object(item)) = payload.pointer_mut(&at) else {
            continue;
        };
        // An item whose content came inline is that document already.
        if item
            .get("document")
            .and_then(Value::as_u64)
            .is_some_and(|i| (i as usize) < already)
        {
            continue;
        }
        let Some(link) = item.get(&urls.url).and_then(Value::as_str) else {
            continue;
        };
        let index = already + linked.len();
        if index >= spec.max_count {
            return Err(BodyError::TooManyDocuments {
                limit: spec.max_count,
            });
        }
        let url = Url::parse(link.trim())
            .ok()
            .filter(|url| urls.allows(url))
            .ok_or(BodyError::LinkNotAllowed { index })?;
        let document = LinkedDocument {
            index,
            url,
            name: string_member(item, &urls.name),
            declared_type: string_member(item, &urls.media_type),
        };
        item.insert("document".into(), Value::from(index));
        linked.push(document);
    }
    Ok(linked)
}
