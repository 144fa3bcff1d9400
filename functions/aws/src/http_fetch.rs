//! [`Fetcher`] over reqwest, for `kind: http` context lookups. Shared by the
//! context Lambda and the local runtime: nothing here is AWS-specific.

use async_trait::async_trait;
use handoff_core::ports::{FetchError, FetchRequest, FetchResponse, Fetcher};

use crate::outbound::{describe, read_capped, OutboundPolicy, Refused};

pub struct HttpFetcher {
    client: reqwest::Client,
    policy: OutboundPolicy,
}

impl HttpFetcher {
    /// Builds the one HTTP client for the process, holding `policy`; each
    /// request carries its own timeout from the spec.
    pub fn new(policy: OutboundPolicy) -> Result<Self, reqwest::Error> {
        let client = policy.client_builder().build()?;
        Ok(Self { client, policy })
    }
}

#[async_trait]
impl Fetcher for HttpFetcher {
    async fn get(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError> {
        self.policy
            .check(&request.url)
            .map_err(|e| FetchError::Refused(e.to_string()))?;
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout(request.timeout)
            } else if let Some(refused) = Refused::within(&e) {
                FetchError::Refused(refused.to_string())
            } else {
                FetchError::Failed(describe(e))
            }
        };
        let mut builder = self.client.get(&request.url).timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await.map_err(failed)?;
        let status = response.status().as_u16();
        let (body, cut) = read_capped(&mut response, request.max_body_bytes)
            .await
            .map_err(failed)?;
        if cut {
            return Err(FetchError::TooLarge(request.max_body_bytes));
        }
        Ok(FetchResponse { status, body })
    }
}
