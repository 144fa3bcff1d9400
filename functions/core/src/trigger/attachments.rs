//! Documents as they arrive with a delivery, and the base64 ones taken out
//! of a JSON payload.

use std::fmt;

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use handoff_spec::DocumentIntakeSpec;
use serde_json::Value;

use super::BodyError;

/// A document as it arrived, before it is checked and stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The sender's file name: untrusted text.
    pub name: Option<String>,
    /// The sender's media type: untrusted, the bytes say what it is.
    pub declared_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("declared_type", &self.declared_type)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .finish()
    }
}

/// The documents of one delivery, gathered within the spec's limits.
pub(crate) struct Documents<'s> {
    spec: &'s DocumentIntakeSpec,
    taken: Vec<Attachment>,
}

impl<'s> Documents<'s> {
    pub(crate) fn new(spec: &'s DocumentIntakeSpec) -> Self {
        Self {
            spec,
            taken: Vec::new(),
        }
    }

    /// The index the next document will have, once it is checked to be
    /// within the count.
    pub(crate) fn next_index(&self) -> Result<usize, BodyError> {
        if self.taken.len() >= self.spec.max_count {
            return Err(BodyError::TooManyDocuments {
                limit: self.spec.max_count,
            });
        }
        Ok(self.taken.len())
    }

    /// Refuses a document of `len` bytes that would be the next one.
    pub(crate) fn check_size(&self, len: usize) -> Result<(), BodyError> {
        if len > self.spec.max_bytes {
            return Err(BodyError::DocumentTooLarge {
                index: self.taken.len(),
                limit: self.spec.max_bytes,
            });
        }
        Ok(())
    }

    /// Takes one document; its index in the delivery.
    pub(crate) fn push(&mut self, attachment: Attachment) -> Result<usize, BodyError> {
        let index = self.next_index()?;
        self.check_size(attachment.bytes.len())?;
        self.taken.push(attachment);
        Ok(index)
    }

    pub(crate) fn into_vec(self) -> Vec<Attachment> {
        self.taken
    }
}

/// Standard base64, padded or not. Senders pad inconsistently, and the
/// padding carries nothing.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Takes the base64 documents out of a JSON payload (so the stored event
/// never carries them: the documents are stored apart and the event refers
/// to them), decoding each; each item's content member is removed from the
/// payload and the item gains `"document": <index>` (into the returned
/// list) so the spec can still see which item was which. Items the path
/// selects that are not objects or have no content member are left as
/// they are. Nothing is decoded before the count and every item's size
/// are checked.
pub fn take_json_documents(
    spec: &DocumentIntakeSpec,
    payload: &mut Value,
) -> Result<Vec<Attachment>, BodyError> {
    let Some(json) = &spec.json else {
        return Ok(Vec::new());
    };
    let items: Vec<String> = super::paths::pointers(&json.items, payload)
        .into_iter()
        .filter(|at| {
            payload
                .pointer(at)
                .and_then(|item| item.get(&json.content))
                .is_some_and(|content| !content.is_null())
        })
        .collect();
    if items.len() > spec.max_count {
        return Err(BodyError::TooManyDocuments {
            limit: spec.max_count,
        });
    }
    let mut documents = Documents::new(spec);
    for at in items {
        let index = documents.next_index()?;
        let Some(Value::Object(item)) = payload.pointer_mut(&at) else {
            continue;
        };
        let Some(Value::String(content)) = item.remove(&json.content) else {
            return Err(BodyError::NotBase64 { index });
        };
        documents.check_size(decoded_len(&content))?;
        let bytes = decode(&content).ok_or(BodyError::NotBase64 { index })?;
        let attachment = Attachment {
            name: string_member(item, &json.name),
            declared_type: string_member(item, &json.media_type),
            bytes,
        };
        item.insert("document".into(), Value::from(index));
        documents.push(attachment)?;
    }
    Ok(documents.into_vec())
}

/// The string at an item's optional member (a file name, a media type).
pub(crate) fn string_member(
    item: &serde_json::Map<String, Value>,
    name: &Option<String>,
) -> Option<String> {
    name.as_ref()
        .and_then(|n| item.get(n))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// What `encoded` decodes to, in bytes, counted without decoding: three
/// bytes for every four symbols (line breaks and padding are no symbols).
fn decoded_len(encoded: &str) -> usize {
    let symbols = encoded
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .count();
    symbols / 4 * 3 + (symbols % 4).saturating_sub(1)
}

/// Base64 decoded; line breaks (as MIME writes them) are allowed.
fn decode(encoded: &str) -> Option<Vec<u8>> {
    if encoded.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = encoded.split_ascii_whitespace().collect();
        BASE64.decode(compact).ok()
    } else {
        BASE64.decode(encoded).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counted_length_is_the_decoded_length() {
        for len in 0..40 {
            let bytes = vec![7u8; len];
            let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert_eq!(decoded_len(&encoded), len, "{encoded}");
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(decoded_len(unpadded), len);
            assert_eq!(decode(unpadded).as_deref(), Some(&bytes[..]));
        }
        assert_eq!(decode("aGVs\r\nbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode("aGVs bG8@"), None);
    }
}
