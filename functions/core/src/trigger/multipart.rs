//! `multipart/form-data` bodies: a form with files, as an upload form or a
//! sender's HTTP client posts documents.

use std::convert::Infallible;

use futures_util::FutureExt;
use handoff_spec::DocumentIntakeSpec;
use serde_json::{Map, Value};

use super::attachments::{Attachment, Documents};
use super::BodyError;

/// The text part that, holding JSON, is the payload itself (as in a
/// urlencoded form).
const PAYLOAD_PART: &str = "payload";

/// The form's payload and its files. File parts (those with a filename)
/// become attachments, their declared type the part's Content-Type; a part
/// named `payload` holding JSON becomes the payload (the other text parts
/// are then not read); otherwise the text parts become a JSON object of
/// strings. At most `max_count` files of at most `max_bytes` each; an
/// empty file part with an empty filename (a form's file input left
/// empty) is no file.
pub fn parse_form_data(
    content_type: &str,
    body: &[u8],
    spec: &DocumentIntakeSpec,
) -> Result<(Value, Vec<Attachment>), BodyError> {
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    // multer reads a stream; here it is one chunk already in memory, so
    // every await is ready at once and no runtime is needed.
    let chunk = Ok::<_, Infallible>(body.to_vec());
    let multipart = multer::Multipart::new(futures_util::stream::iter([chunk]), boundary);
    read(multipart, spec)
        .now_or_never()
        .unwrap_or_else(|| Err(BodyError::Malformed("multipart body is incomplete".into())))
}

async fn read(
    mut multipart: multer::Multipart<'_>,
    spec: &DocumentIntakeSpec,
) -> Result<(Value, Vec<Attachment>), BodyError> {
    let mut documents = Documents::new(spec);
    let mut texts = Map::new();
    let mut payload = None;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let Some(file_name) = field.file_name().map(str::to_string) else {
            let name = field.name().map(str::to_string);
            let text = field.text().await.map_err(malformed)?;
            match name {
                Some(name) if name == PAYLOAD_PART => payload = Some(text),
                Some(name) => {
                    texts.insert(name, Value::String(text));
                }
                None => {}
            }
            continue;
        };
        if !file_name.is_empty() {
            documents.next_index()?;
        }
        let declared_type = field.content_type().map(|m| m.essence_str().to_string());
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            documents.check_size(bytes.len() + chunk.len())?;
            bytes.extend_from_slice(&chunk);
        }
        if file_name.is_empty() && bytes.is_empty() {
            continue;
        }
        documents.push(Attachment {
            name: Some(file_name).filter(|n| !n.is_empty()),
            declared_type,
            bytes,
        })?;
    }
    let payload = match payload {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| BodyError::Malformed(format!("payload part: {e}")))?,
        None => Value::Object(texts),
    };
    Ok((payload, documents.into_vec()))
}

fn malformed(e: multer::Error) -> BodyError {
    BodyError::Malformed(format!("multipart: {e}"))
}
