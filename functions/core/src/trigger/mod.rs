//! The front door: who sent a webhook, which delivery it is, and what it says.

mod delivery;
mod normalize;
mod paths;
mod signature;

pub use delivery::{delivery_id, MAX_DELIVERY_ID_BYTES};
pub use normalize::{check_content_type, map_fields, parse_body, BodyError, MappingError};
pub use signature::{hmac_hex, verify, SignatureError};

/// Larger bodies are refused with 413. The run store keeps the body (claim
/// check) and Step Functions caps a state's payload at 256 KiB; a body that
/// fits this limit always fits an item and never has to travel in a state.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
