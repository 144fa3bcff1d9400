//! The documents a delivery links to, fetched before it is answered: what
//! cannot be fetched refuses the delivery (nothing is stored), so the sender
//! retries it or learns why it never will be taken.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use handoff_spec::DocumentIntakeSpec;
use tracing::warn;

use crate::ports::{FetchError, FetchRequest, Fetcher, Secrets};
use crate::trigger::{Attachment, LinkedDocument};

/// Why a linked document was not fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchRefusal {
    /// The outbound rules stopped it, or its server answered 4xx: sending
    /// the delivery again will not help.
    #[error("document {index}: {reason}")]
    Refused { index: usize, reason: String },
    /// A timeout, a failed connection or a 5xx: worth retrying.
    #[error("document {index} could not be fetched: {reason}")]
    Unreachable { index: usize, reason: String },
    #[error("document {index} is over the limit of {limit} bytes")]
    TooLarge { index: usize, limit: usize },
    #[error("the secret for fetching documents could not be read; retry later")]
    SecretUnavailable,
}

/// Fetches every link at once, each within the spec's timeout and
/// `spec.max_bytes`; the documents in link order, or the first link's
/// refusal.
pub async fn fetch_linked(
    fetcher: &dyn Fetcher,
    secrets: &dyn Secrets,
    spec: &DocumentIntakeSpec,
    linked: Vec<LinkedDocument>,
) -> Result<Vec<Attachment>, FetchRefusal> {
    let Some(urls) = spec.urls.as_ref().filter(|_| !linked.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut headers = BTreeMap::new();
    if let Some(auth) = &urls.auth {
        let secret = secrets.get(&auth.secret).await.map_err(|e| {
            warn!(secret = auth.secret, error = %e, "document fetch secret unavailable");
            FetchRefusal::SecretUnavailable
        })?;
        headers.insert(
            auth.header.to_ascii_lowercase(),
            format!("{}{}", auth.prefix, secret.current),
        );
    }
    let timeout = Duration::from_millis(urls.timeout_ms);
    let fetches = linked.into_iter().map(|link| {
        let request = FetchRequest {
            url: link.url.to_string(),
            headers: headers.clone(),
            timeout,
            max_body_bytes: spec.max_bytes,
        };
        async move {
            let index = link.index;
            let response = fetcher.get(&request).await.map_err(|e| match e {
                FetchError::TooLarge(limit) => FetchRefusal::TooLarge { index, limit },
                FetchError::Refused(reason) => FetchRefusal::Refused { index, reason },
                other => FetchRefusal::Unreachable {
                    index,
                    reason: other.to_string(),
                },
            })?;
            let reason = format!("its server answered {}", response.status);
            match response.status {
                200..=299 => Ok(Attachment {
                    name: link.name,
                    declared_type: link.declared_type,
                    bytes: response.body,
                }),
                300..=399 => Err(FetchRefusal::Refused {
                    index,
                    reason: format!("{reason}; a redirect to another origin is not followed"),
                }),
                400..=499 => Err(FetchRefusal::Refused { index, reason }),
                _ => Err(FetchRefusal::Unreachable { index, reason }),
            }
        }
    });
    join_all(fetches).await.into_iter().collect()
}
