//! The front door: who sent a webhook, which delivery it is, and what it says.

mod attachments;
mod delivery;
mod email;
mod multipart;
mod normalize;
mod paths;
mod signature;

pub use attachments::{take_json_documents, Attachment};
pub use delivery::{delivery_id, MAX_DELIVERY_ID_BYTES};
pub use email::{authentication_results, parse_email, Authentication, Email, Verdict};
pub use multipart::parse_form_data;
pub use normalize::{
    accepted_types, check_content_type, map_fields, parse_body, BodyError, MappingError, ParsedBody,
};
pub use signature::{hmac_hex, verify, SignatureError};

/// Larger bodies are refused with 413. The run store keeps the body (claim
/// check) and Step Functions caps a state's payload at 256 KiB; a body that
/// fits this limit always fits an item and never has to travel in a state.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
