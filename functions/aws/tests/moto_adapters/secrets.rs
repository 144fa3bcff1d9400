//! Secrets Manager: both versions during a rotation, and the per-process
//! cache.

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use handoff_aws::secrets::SecretsManager;
use handoff_core::ports::{SecretError, Secrets};

use crate::support::*;

/// A secret `name` under a prefix of its own, so tests share no state.
struct TestSecret {
    client: Client,
    prefix: String,
    id: String,
}

impl TestSecret {
    async fn create(name: &str, value: &str) -> Self {
        let client = Client::new(&sdk_config().await);
        let prefix = format!("{}/", unique("handoff"));
        let id = format!("{prefix}{name}");
        client
            .create_secret()
            .name(&id)
            .secret_string(value)
            .send()
            .await
            .expect("create secret");
        Self { client, prefix, id }
    }

    /// What a rotation does: the new value becomes AWSCURRENT, the old one
    /// AWSPREVIOUS.
    async fn rotate(&self, value: &str) {
        self.client
            .put_secret_value()
            .secret_id(&self.id)
            .secret_string(value)
            .send()
            .await
            .expect("put secret value");
    }

    /// The adapter over the secret's prefix, caching for `ttl`.
    fn manager(&self, ttl: Duration) -> SecretsManager {
        SecretsManager::new(self.client.clone(), &self.prefix, ttl)
    }
}

#[tokio::test]
async fn a_rotated_secret_offers_current_and_previous() {
    let secret = TestSecret::create("support-triage/webhook", "first").await;

    let fresh = secret.manager(Duration::ZERO);
    let before = fresh.get("support-triage/webhook").await.unwrap();
    assert_eq!((before.current.as_str(), before.previous), ("first", None));

    secret.rotate("second").await;
    let after = fresh.get("support-triage/webhook").await.unwrap();
    assert_eq!(after.current, "second");
    assert_eq!(after.previous.as_deref(), Some("first"));
    assert_eq!(after.candidates().collect::<Vec<_>>(), ["second", "first"]);

    let missing = fresh.get("no-such/secret").await;
    assert!(
        matches!(missing, Err(SecretError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn the_previous_value_stops_verifying_once_the_rotation_overlap_ends() {
    let secret = TestSecret::create("support-triage/webhook", "first").await;
    secret.rotate("second").await;

    let within = secret.manager(Duration::ZERO);
    let read = within.get("support-triage/webhook").await.unwrap();
    assert_eq!(read.previous.as_deref(), Some("first"), "within a day");

    let past = secret
        .manager(Duration::ZERO)
        .with_rotation_overlap(Duration::ZERO);
    let read = past.get("support-triage/webhook").await.unwrap();
    assert_eq!(read.current, "second");
    assert_eq!(read.previous, None, "the leaked old value is retired");
}

#[tokio::test]
async fn a_cached_secret_is_reread_after_its_ttl() {
    let secret = TestSecret::create("approval-links", "first").await;
    let secrets = secret.manager(Duration::from_millis(500));

    assert_eq!(
        secrets.get("approval-links").await.unwrap().current,
        "first"
    );
    secret.rotate("second").await;
    assert_eq!(
        secrets.get("approval-links").await.unwrap().current,
        "first",
        "served from the cache within the TTL"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reread = secrets.get("approval-links").await.unwrap();
    assert_eq!(reread.current, "second");
    assert_eq!(reread.previous.as_deref(), Some("first"));
}
