use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

/// The most of an outbound response that is read: a lookup's answer before
/// its mapping (the lookup's own budget then applies to what is kept), an
/// action's reply before its excerpt.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One HTTP GET of a context lookup, rendered and ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    pub url: String,
    pub headers: BTreeMap<String, String>,
    /// Connect to last byte.
    pub timeout: Duration,
    /// A longer body is an error, not a truncation: cut JSON does not parse.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FetchResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("request failed: {0}")]
    Failed(String),
    /// The outbound rules stopped it (a private address, plain http):
    /// never worth retrying.
    #[error("{0}")]
    Refused(String),
}

/// Outbound reads for context lookups (a CRM, a billing API).
#[async_trait]
pub trait Fetcher: Send + Sync {
    async fn get(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError>;
}

/// For processes whose workflows declare no HTTP lookups: every call fails,
/// so a lookup added later surfaces through its failure policy.
pub struct NoFetcher;

#[async_trait]
impl Fetcher for NoFetcher {
    async fn get(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError> {
        Err(FetchError::Failed(format!(
            "no HTTP client configured for {}",
            request.url
        )))
    }
}
