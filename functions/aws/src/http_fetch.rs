//! [`Fetcher`] over reqwest, for `kind: http` context lookups. Shared by the
//! context Lambda and the local runtime: nothing here is AWS-specific.

use async_trait::async_trait;
use handoff_core::ports::{FetchError, FetchRequest, FetchResponse, Fetcher};

pub struct HttpFetcher {
    client: reqwest::Client,
}

impl HttpFetcher {
    /// Builds the one HTTP client for the process; each request carries
    /// its own timeout from the spec.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("handoff/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait]
impl Fetcher for HttpFetcher {
    async fn get(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError> {
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout(request.timeout)
            } else {
                FetchError::Failed(e.to_string())
            }
        };
        let mut builder = self.client.get(&request.url).timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await.map_err(failed)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|n| n > request.max_body_bytes as u64)
        {
            return Err(FetchError::TooLarge(request.max_body_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > request.max_body_bytes {
                return Err(FetchError::TooLarge(request.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse { status, body })
    }
}
