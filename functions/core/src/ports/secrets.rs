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

/// The least a key that signs links or tokens may hold: 256 bits.
pub const MIN_SIGNING_KEY_BYTES: usize = 32;

impl Secret {
    /// The secret as a signing key: a current value shorter than
    /// [`MIN_SIGNING_KEY_BYTES`] is refused, a short previous one dropped.
    pub fn signing_key(mut self, name: &str) -> Result<Secret, SecretError> {
        if self.current.len() < MIN_SIGNING_KEY_BYTES {
            return Err(SecretError::TooShort {
                name: name.to_string(),
                min: MIN_SIGNING_KEY_BYTES,
            });
        }
        self.previous = self.previous.filter(|p| p.len() >= MIN_SIGNING_KEY_BYTES);
        Ok(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{0}` not found")]
    NotFound(String),
    #[error("secret `{name}` is too short to sign with: use at least {min} random bytes")]
    TooShort { name: String, min: usize },
    #[error("secrets store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Secrets: Send + Sync {
    async fn get(&self, name: &str) -> Result<Secret, SecretError>;
}
