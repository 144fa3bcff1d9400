//! The front door: who sent a webhook, which delivery it is, and what it says.

mod attachments;
mod delivery;
mod email;
mod linked;
mod multipart;
mod normalize;
mod paths;
mod signature;

pub use attachments::{take_json_documents, Attachment};
pub use delivery::{delivery_id, MAX_DELIVERY_ID_BYTES};
pub use email::{authentication_results, parse_email, Authentication, Email, Verdict};
pub use linked::{take_linked_documents, LinkedDocument};
pub use multipart::parse_form_data;
pub use normalize::{
    accepted_types, check_content_type, is_email, map_fields, parse_body, BodyError, MappingError,
    ParsedBody,
};
pub use signature::{hmac_hex, verify, SignatureError};

/// Larger bodies are refused with 413. The run store keeps the body (claim
/// check) and Step Functions caps a state's payload at 256 KiB; a body that
/// fits this limit always fits an item and never has to travel in a state.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A body with documents in it may be this large: under the 6 MB a Lambda
/// invocation carries once API Gateway has base64-encoded it.
pub const MAX_BODY_WITH_DOCUMENTS_BYTES: usize = 4 * 1024 * 1024;

/// The largest message SES receiving hands over that ingest reads: no API
/// Gateway in between, and a few scanned pages run to megabytes.
pub const MAX_RECEIVED_MAIL_BYTES: usize = 30 * 1024 * 1024;

/// The largest body `trigger` takes.
pub fn max_body_bytes(trigger: &handoff_spec::TriggerSpec) -> usize {
    if trigger.documents.is_some() || trigger.email.is_some() {
        MAX_BODY_WITH_DOCUMENTS_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// The workflow's document limits, or the defaults for a trigger (e-mail)
/// that declares none.
pub fn documents_spec(trigger: &handoff_spec::TriggerSpec) -> handoff_spec::DocumentIntakeSpec {
    trigger.documents.clone().unwrap_or_default()
}
