use std::collections::BTreeMap;

use handoff_spec::TriggerSpec;
use serde_json::Value;

use super::attachments::{take_json_documents, Attachment};
use super::email::{authentication_results, parse_email, Authentication};
use super::linked::{take_linked_documents, LinkedDocument};
use super::multipart::parse_form_data;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("unsupported content type `{got}`; this workflow takes {accepted}")]
    UnsupportedType { got: String, accepted: String },
    #[error("malformed body: {0}")]
    Malformed(String),
    #[error("not an e-mail message: {0}")]
    NotAnEmail(String),
    #[error("more than {limit} documents in one delivery")]
    TooManyDocuments { limit: usize },
    #[error("document {index} is over the limit of {limit} bytes")]
    DocumentTooLarge { index: usize, limit: usize },
    #[error("document {index} is not base64")]
    NotBase64 { index: usize },
    #[error("document {index}: the link is not a URL under one of the prefixes this workflow fetches from")]
    LinkNotAllowed { index: usize },
}

impl BodyError {
    /// A stable name for the error, for logs and answers.
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::UnsupportedType { .. } => "unsupported_media_type",
            BodyError::Malformed(_) => "malformed_body",
            BodyError::NotAnEmail(_) => "not_an_email",
            BodyError::TooManyDocuments { .. } => "too_many_documents",
            BodyError::DocumentTooLarge { .. } => "document_too_large",
            BodyError::NotBase64 { .. } => "document_not_base64",
            BodyError::LinkNotAllowed { .. } => "document_link_not_allowed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("required field `{field}` not found at {path}")]
pub struct MappingError {
    pub field: String,
    pub path: String,
}

/// A body read: the payload the spec maps, the documents taken out of it,
/// which are stored apart (the payload never carries their bytes), and the
/// documents it links to, still to be fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBody {
    pub payload: Value,
    pub attachments: Vec<Attachment>,
    pub linked: Vec<LinkedDocument>,
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const FORM_DATA: &str = "multipart/form-data";
const EMAIL: &str = "message/rfc822";

fn mime(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether the body is a raw e-mail.
pub fn is_email(content_type: Option<&str>) -> bool {
    mime(content_type) == EMAIL
}

/// The media types `trigger` takes: JSON and forms always, files in a form
/// only where documents are declared, raw e-mail only where e-mail is.
pub fn accepted_types(trigger: &TriggerSpec) -> Vec<&'static str> {
    let mut types = vec![JSON, FORM];
    if trigger.documents.is_some() {
        types.push(FORM_DATA);
    }
    if trigger.email.is_some() {
        types.push(EMAIL);
    }
    types
}

fn unsupported(trigger: &TriggerSpec, got: String) -> BodyError {
    let types = accepted_types(trigger);
    let accepted = match types.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    BodyError::UnsupportedType { got, accepted }
}

/// Refuses a body we could not read, before any other work is done.
pub fn check_content_type(
    trigger: &TriggerSpec,
    content_type: Option<&str>,
) -> Result<(), BodyError> {
    let got = mime(content_type);
    if accepted_types(trigger).contains(&got.as_str()) {
        Ok(())
    } else {
        Err(unsupported(trigger, got))
    }
}

/// JSON, or a form (Slack slash commands; interactivity sends its JSON in a
/// single `payload` field, which becomes the payload itself); where the
/// spec says so, files in a `multipart/form-data` form, base64 documents
/// in the JSON, or a raw e-mail (its payload is described at
/// [`parse_email`]). An e-mail POSTed here is authenticated by the
/// `Authentication-Results` of the server the spec trusts, or not at all.
pub fn parse_body(
    trigger: &TriggerSpec,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<ParsedBody, BodyError> {
    let documents = trigger.documents.as_ref();
    let got = mime(content_type);
    match (got.as_str(), documents, &trigger.email) {
        (JSON, _, _) => {
            let mut payload: Value =
                serde_json::from_slice(body).map_err(|e| BodyError::Malformed(e.to_string()))?;
            let (attachments, linked) = match documents {
                Some(spec) => {
                    let attachments = take_json_documents(spec, &mut payload)?;
                    let linked = take_linked_documents(spec, &mut payload, attachments.len())?;
                    (attachments, linked)
                }
                None => (Vec::new(), Vec::new()),
            };
            Ok(ParsedBody {
                payload,
                attachments,
                linked,
            })
        }
        (FORM, _, _) => Ok(ParsedBody {
            payload: parse_form(body)?,
            attachments: Vec::new(),
            linked: Vec::new(),
        }),
        (FORM_DATA, Some(spec), _) => {
            let (payload, attachments) =
                parse_form_data(content_type.unwrap_or_default(), body, spec)?;
            Ok(ParsedBody {
                payload,
                attachments,
                linked: Vec::new(),
            })
        }
        (EMAIL, _, Some(email)) => {
            let auth = match email.authserv_id.as_deref() {
                Some(trusted) => {
                    let headers = authentication_results(body);
                    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
                    Authentication::from_authentication_results(&headers, trusted)
                }
                None => Authentication::unverified(),
            };
            // E-mail without `documents` still takes attachments, within
            // the default limits.
            let email = parse_email(body, auth, &super::documents_spec(trigger))?;
            Ok(ParsedBody {
                payload: email.payload,
                attachments: email.attachments,
                linked: Vec::new(),
            })
        }
        _ => Err(unsupported(trigger, got)),
    }
}

fn parse_form(body: &[u8]) -> Result<Value, BodyError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| BodyError::Malformed("form body is not UTF-8".into()))?;
    let mut fields = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            urlencoding::decode(&s.replace('+', " "))
                .map(|c| c.into_owned())
                .map_err(|_| BodyError::Malformed("bad percent-encoding".into()))
        };
        fields.insert(decode(k)?, Value::String(decode(v)?));
    }
    if let (1, Some(Value::String(inner))) = (fields.len(), fields.get("payload")) {
        return serde_json::from_str(inner)
            .map_err(|e| BodyError::Malformed(format!("payload field: {e}")));
    }
    Ok(Value::Object(fields))
}

/// Maps the payload to canonical fields by the spec's JSONPaths.
pub fn map_fields(
    trigger: &TriggerSpec,
    payload: &Value,
) -> Result<BTreeMap<String, Value>, MappingError> {
    let mut fields = BTreeMap::new();
    for (name, path) in &trigger.fields {
        let found = super::paths::first(path, payload)
            .filter(|v| !v.is_null())
            .cloned();
        if let Some(value) = found {
            fields.insert(name.clone(), value);
        }
    }
    for name in &trigger.required {
        let present = fields.get(name).is_some_and(|v| v.as_str() != Some(""));
        if !present {
            return Err(MappingError {
                field: name.clone(),
                path: trigger.fields.get(name).cloned().unwrap_or_default(),
            });
        }
    }
    Ok(fields)
}
