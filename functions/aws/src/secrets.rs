//! [`Secrets`] on Secrets Manager. Both the current and the previous version
//! are read so signatures made with a secret being rotated still verify, but
//! the previous one only for [`ROTATION_OVERLAP`] after the current one was
//! made: a rotation that retires a leaked value retires it for good.
//! Values are cached per process for `ttl`: a warm Lambda does not pay a
//! round trip per request, and a rotation reaches it within `ttl`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use handoff_core::ports::{Secret, SecretError, Secrets};
use tokio::sync::Mutex;

/// How long after a rotation the previous value still verifies.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

pub struct SecretsManager {
    pub client: aws_sdk_secretsmanager::Client,
    /// Prepended to a spec's secret name, e.g. `handoff/prod/`.
    pub prefix: String,
    pub ttl: Duration,
    /// How long after the current version was made the previous one counts.
    pub rotation_overlap: Duration,
    cache: Mutex<HashMap<String, (Instant, Secret)>>,
}

impl SecretsManager {
    pub fn new(
        client: aws_sdk_secretsmanager::Client,
        prefix: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            client,
            prefix: prefix.into(),
            ttl,
            rotation_overlap: ROTATION_OVERLAP,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn from_config(
        config: &aws_config::SdkConfig,
        prefix: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(config), prefix, ttl)
    }

    /// The functions' secrets: names under `HANDOFF_SECRET_PREFIX`, each
    /// cached for five minutes, so a rotated secret is read within that.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, crate::lambda::EnvError> {
        let prefix = crate::lambda::env("HANDOFF_SECRET_PREFIX")?;
        Ok(Self::from_config(config, prefix, Duration::from_secs(300)))
    }

    pub fn with_rotation_overlap(mut self, overlap: Duration) -> Self {
        self.rotation_overlap = overlap;
        self
    }

    /// One version stage of a secret and when it was made; `None` when that
    /// stage does not exist.
    async fn stage(&self, id: &str, stage: &str) -> Result<Option<Version>, SecretError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(id)
            .version_stage(stage)
            .send()
            .await;
        match result {
            Ok(out) => {
                let created = out
                    .created_date
                    .and_then(|d| std::time::SystemTime::try_from(d).ok());
                let value = match (out.secret_string, out.secret_binary) {
                    (Some(s), _) => s,
                    (None, Some(b)) => String::from_utf8(b.into_inner()).map_err(|_| {
                        SecretError::Unavailable(format!("secret `{id}` is binary, not text"))
                    })?,
                    (None, None) => {
                        return Err(SecretError::Unavailable(format!(
                            "secret `{id}` has no value"
                        )))
                    }
                };
                Ok(Some(Version { value, created }))
            }
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(SecretError::Unavailable(
                DisplayErrorContext(&err).to_string(),
            )),
        }
    }
}

struct Version {
    value: String,
    created: Option<std::time::SystemTime>,
}

fn is_not_found(err: &SdkError<GetSecretValueError>) -> bool {
    err.as_service_error()
        .is_some_and(GetSecretValueError::is_resource_not_found_exception)
}

#[async_trait]
impl Secrets for SecretsManager {
    async fn get(&self, name: &str) -> Result<Secret, SecretError> {
        if let Some((at, secret)) = self.cache.lock().await.get(name) {
            if at.elapsed() < self.ttl {
                return Ok(secret.clone());
            }
        }
        let id = format!("{}{}", self.prefix, name);
        let (current, previous) = tokio::join!(
            self.stage(&id, "AWSCURRENT"),
            self.stage(&id, "AWSPREVIOUS")
        );
        let current = current?.ok_or_else(|| SecretError::NotFound(name.to_string()))?;
        // Past the overlap (or with no date to tell), the old value is retired.
        let overlapping = current
            .created
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age < self.rotation_overlap);
        // A missing previous version is normal; a failed read of it only
        // costs rotation overlap, so it does not fail the request.
        let (previous, cacheable) = match previous {
            Ok(previous) => (previous, true),
            Err(e) => {
                tracing::warn!(secret = name, error = %e, "previous secret version unreadable");
                (None, false)
            }
        };
        let secret = Secret {
            current: current.value,
            previous: previous
                .filter(|_| overlapping)
                .map(|version| version.value),
        };
        if cacheable {
            self.cache
                .lock()
                .await
                .insert(name.to_string(), (Instant::now(), secret.clone()));
        }
        Ok(secret)
    }
}
