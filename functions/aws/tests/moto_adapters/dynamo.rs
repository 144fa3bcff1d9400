//! What only the DynamoDB run store has to show on a real table: item
//! sizes, TTL attributes, index paging and conflict details. What every
//! store does is the contract (`store_contract.rs`).

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use chrono::{Duration, Utc};
use handoff_aws::dynamo::codec::{dedupe_pk, feedback_pk, ts, META, PK, SK};
use handoff_aws::dynamo::DynamoStore;
use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_core::testing::store_contract::{correction, corrections_listed, fail_run, owned};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_creates_of_one_run_id_store_it_once() {
    let config = sdk_config().await;
    let store = Arc::new(table(&config).await);
    let first = run("support-triage", &unique("delivery"), None, at(0));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            // Same run id, each with its own delivery: only the run's own
            // condition can stop the other nine.
            let mut r = first.clone();
            r.delivery_id = unique("delivery");
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_run(&r, &event(&r), &dedupe(&r), &AuditEvent::received(&r, 0))
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Created::New) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn a_body_at_the_size_limit_is_stored_and_read_back_intact() {
    use base64::Engine as _;
    let config = sdk_config().await;
    let store = table(&config).await;
    // Incompressible text filling the whole body, mapped to `text` as well
    // (the event holds it twice), from a sender as long as a header allows.
    let raw: Vec<u8> = (0..handoff_core::trigger::MAX_BODY_BYTES * 3 / 4 - 16)
        .map(|_| rand::random::<u8>())
        .collect();
    let text = base64::engine::general_purpose::STANDARD.encode(raw);
    let body = serde_json::to_vec(&serde_json::json!({ "t": text })).unwrap();
    assert!(body.len() <= handoff_core::trigger::MAX_BODY_BYTES);
    let sender = "s".repeat(8 * 1024);
    let r = run("support-triage", &unique("big"), Some(&sender), at(0));
    let big = CanonicalEvent {
        fields: [("text".to_string(), serde_json::json!(text))].into(),
        payload: serde_json::from_slice(&body).unwrap(),
        documents: Vec::new(),
        ..event(&r)
    };

    let created = store
        .create_run(&r, &big, &dedupe(&r), &AuditEvent::received(&r, body.len()))
        .await
        .expect("stored");

    assert_eq!(created, Created::New);
    assert_eq!(store.get_event(&r.id).await.unwrap(), Some(big));
    assert_eq!(store.get_run(&r.id).await.unwrap(), Some(r.clone()));
    let by_sender = store
        .list_runs(&RunQuery {
            workflow: Some(r.workflow.clone()),
            sender: Some(sender),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_sender.items, vec![r]);
}

#[tokio::test]
async fn dedupe_items_carry_the_ttl_attribute_and_expire_logically() {
    let config = sdk_config().await;
    let store = table(&config).await;
    let r = run("support-triage", &unique("delivery"), None, at(0));
    let key = dedupe(&r);
    store_run(&store, &r, &key).await;

    let item = item(&store, dedupe_pk(&key.workflow, &key.claims()[0]), META)
        .await
        .expect("dedupe item");
    assert_eq!(
        item.get(TTL_ATTRIBUTE),
        Some(&AttributeValue::N(key.expires_at.timestamp().to_string())),
        "TTL attribute in epoch seconds"
    );
    let ttl = store
        .client
        .describe_time_to_live()
        .table_name(&store.table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .expect("ttl description");
    assert_eq!(ttl.attribute_name(), Some(TTL_ATTRIBUTE));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

    // A key past its expiry that TTL has not deleted yet no longer counts.
    let stale = run("support-triage", &unique("delivery"), None, at(0));
    let mut stale_key = dedupe(&stale);
    stale_key.expires_at = Utc::now() - Duration::hours(1);
    store_run(&store, &stale, &stale_key).await;
    let again = run("support-triage", &stale.delivery_id, None, at(5));
    assert_eq!(
        store_run(&store, &again, &dedupe(&again)).await,
        Created::New
    );
}

#[tokio::test]
async fn runs_of_one_status_are_listed_newest_first_across_pages() {
    let config = sdk_config().await;
    let store = table(&config).await;
    let created = runs_a_minute_apart(&store, None, 5).await;
    let moved = &created[1];
    fail_run(&store, &moved.id, Stage::Start, at(9)).await;

    let query = RunQuery {
        status: Some(RunStatus::Received),
        limit: 2,
        ..Default::default()
    };
    let listed = all_pages(&store, query).await;
    let expected: Vec<RunId> = [4, 3, 2, 0]
        .iter()
        .map(|&i| created[i].id.clone())
        .collect();
    assert_eq!(listed, expected);

    // Without a status every status partition is merged, still in order.
    let everything = all_pages(
        &store,
        RunQuery {
            limit: 2,
            ..Default::default()
        },
    )
    .await;
    let expected: Vec<RunId> = created.iter().rev().map(|r| r.id.clone()).collect();
    assert_eq!(everything, expected);
}

#[tokio::test]
async fn runs_of_one_sender_come_from_the_by_sender_index() {
    let config = sdk_config().await;
    let store = table(&config).await;
    let mut from_ana = ids(&runs_a_minute_apart(&store, Some("ana@example.com"), 3).await);
    for (workflow, sender) in [
        ("support-triage", "bo@example.com"),
        ("lead-qualification", "ana@example.com"),
    ] {
        let r = run(workflow, &unique("d"), Some(sender), at(7));
        store_run(&store, &r, &dedupe(&r)).await;
    }

    let listed = all_pages(
        &store,
        RunQuery {
            workflow: Some("support-triage".into()),
            sender: Some("ana@example.com".into()),
            limit: 2,
            ..Default::default()
        },
    )
    .await;
    from_ana.reverse();
    assert_eq!(listed, from_ana);
}

/// `count` runs of support-triage from `sender`, created a minute apart.
async fn runs_a_minute_apart(store: &DynamoStore, sender: Option<&str>, count: i64) -> Vec<Run> {
    let mut runs = Vec::new();
    for minute in 0..count {
        let r = run("support-triage", &unique("delivery"), sender, at(minute));
        store_run(store, &r, &dedupe(&r)).await;
        runs.push(r);
    }
    runs
}

fn ids(runs: &[Run]) -> Vec<RunId> {
    runs.iter().map(|r| r.id.clone()).collect()
}

async fn all_pages(store: &DynamoStore, mut query: RunQuery) -> Vec<RunId> {
    let mut out = Vec::new();
    for _ in 0..20 {
        let page = store.list_runs(&query).await.unwrap();
        assert!(page.items.len() <= query.limit);
        out.extend(ids(&page.items));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return out,
        }
    }
    panic!("more than 20 pages");
}

#[tokio::test]
async fn feedback_is_one_per_run_and_reviewer_and_older_items_are_still_listed() {
    let config = sdk_config().await;
    let store = table(&config).await;
    // As a store from before one-per-reviewer wrote it.
    let old = correction("run-0", "ana", "b", at(0));
    store
        .client
        .put_item()
        .table_name(&store.table)
        .item(PK, AttributeValue::S(feedback_pk("refunds")))
        .item(SK, AttributeValue::S(format!("{}#run-0", ts(old.at))))
        .item(
            "feedback",
            AttributeValue::S(serde_json::to_string(&old).unwrap()),
        )
        .send()
        .await
        .unwrap();
    for f in [
        correction("run-1", "ana", "b", at(1)),
        correction("run-1", "bo", "b", at(2)),
        correction("run-1", "ana", "c", at(3)),
    ] {
        store.put_feedback(&f).await.unwrap();
    }
    assert_eq!(
        corrections_listed(&store, 10).await,
        [
            ("run-1", "ana", "c"),
            ("run-1", "bo", "b"),
            ("run-0", "ana", "b")
        ]
        .map(owned)
    );
    assert_eq!(store.list_feedback("refunds", 2).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_revoked_token_is_kept_until_its_own_expiry() {
    let config = sdk_config().await;
    let store = table(&config).await;
    assert!(!store.token_revoked("tok-1").await.unwrap());
    store.revoke_token("tok-1", at(60)).await.unwrap();
    assert!(store.token_revoked("tok-1").await.unwrap());
    assert!(!store.token_revoked("tok-2").await.unwrap());
    let item = item(&store, "TOKEN#tok-1", META).await.unwrap();
    assert_eq!(
        item["expires_at"],
        AttributeValue::N(at(60).timestamp().to_string()),
        "DynamoDB's TTL removes it once the token could not be used anyway"
    );
}
