use async_trait::async_trait;

/// A shared secret during rotation: both values verify, `current` signs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub current: String,
    pub previous: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn new(current: impl Into<String>) -> Self {
        Self {
            current: current.into(),
            previous: None,
        }
    }

    /// Current first: the values to try when verifying.
    pub fn candidates(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current.as_str()).chain(self.previous.as_deref())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{0}` not found")]
    NotFound(String),
    #[error("secrets store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Secrets: Send + Sync {
    async fn get(&self, name: &str) -> Result<Secret, SecretError>;
}
