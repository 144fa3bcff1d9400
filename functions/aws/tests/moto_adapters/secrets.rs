//! Secrets Manager: both versions during a rotation, and the per-process
//! cache.

use std::time::Duration;

use handoff_aws::secrets::SecretsManager;
use handoff_core::ports::{SecretError, Secrets};

use crate::support::*;

async fn create(config: &aws_config::SdkConfig, id: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(id)
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
}

/// What a rotation does: the new value becomes AWSCURRENT, the old one
/// AWSPREVIOUS.
async fn rotate(config: &aws_config::SdkConfig, id: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(config)
        .put_secret_value()
        .secret_id(id)
        .secret_string(value)
        .send()
        .await
        .expect("put secret value");
}

#[tokio::test]
async fn a_rotated_secret_offers_current_and_previous() {
    let config = sdk_config().await;
    let prefix = format!("{}/", unique("handoff"));
    let id = format!("{prefix}support-triage/webhook");
    create(&config, &id, "first").await;
    let client = aws_sdk_secretsmanager::Client::new(&config);

    let fresh = SecretsManager::new(client.clone(), &prefix, Duration::ZERO);
    let before = fresh.get("support-triage/webhook").await.unwrap();
    assert_eq!((before.current.as_str(), before.previous), ("first", None));

    rotate(&config, &id, "second").await;
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
    let config = sdk_config().await;
    let prefix = format!("{}/", unique("handoff"));
    let id = format!("{prefix}support-triage/webhook");
    create(&config, &id, "first").await;
    rotate(&config, &id, "second").await;
    let client = aws_sdk_secretsmanager::Client::new(&config);

    let within = SecretsManager::new(client.clone(), &prefix, Duration::ZERO);
    let secret = within.get("support-triage/webhook").await.unwrap();
    assert_eq!(secret.previous.as_deref(), Some("first"), "within a day");

    let past =
        SecretsManager::new(client, &prefix, Duration::ZERO).with_rotation_overlap(Duration::ZERO);
    let secret = past.get("support-triage/webhook").await.unwrap();
    assert_eq!(secret.current, "second");
    assert_eq!(secret.previous, None, "the leaked old value is retired");
}

#[tokio::test]
async fn a_cached_secret_is_reread_after_its_ttl() {
    let config = sdk_config().await;
    let prefix = format!("{}/", unique("handoff"));
    let id = format!("{prefix}approval-links");
    create(&config, &id, "first").await;
    let secrets = SecretsManager::new(
        aws_sdk_secretsmanager::Client::new(&config),
        &prefix,
        Duration::from_millis(500),
    );

    assert_eq!(
        secrets.get("approval-links").await.unwrap().current,
        "first"
    );
    rotate(&config, &id, "second").await;
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
