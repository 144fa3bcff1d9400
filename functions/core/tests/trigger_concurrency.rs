//! One delivery sent many times at once starts exactly one run, and a
//! duplicate restarts a run only once its first attempt cannot be in flight.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::trigger_support::*;
use handoff_core::domain::RunStatus;

async fn same_delivery_ten_times_at_once(sample: &str) {
    let h = Arc::new(scheme_harness());
    let ingest = Arc::new(h.ingest());
    let req = sample_request(sample);
    let start = Arc::new(tokio::sync::Barrier::new(10));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (ingest, req, start) = (ingest.clone(), req.clone(), start.clone());
        set.spawn(async move {
            start.wait().await;
            ingest.handle(&req).await
        });
    }
    let mut statuses = Vec::new();
    let mut run_ids = BTreeSet::new();
    while let Some(response) = set.join_next().await {
        let response = response.unwrap();
        let body = response.body_json().unwrap();
        statuses.push(response.status);
        run_ids.insert(body["run_id"].as_str().unwrap().to_string());
        assert_eq!(body["duplicate"], response.status == 200, "{body}");
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    assert_eq!(run_ids.len(), 1, "{run_ids:?}");
    let (runs, dedupe, audit) = h.store.counts();
    assert_eq!((runs, dedupe, audit), (1, 1, 1), "{sample}");
    let queued = h.queue.messages.lock().unwrap().clone();
    assert_eq!(queued.len(), 1, "{sample}: {queued:?}");
    assert_eq!(Some(&queued[0].run_id.to_string()), run_ids.first());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_delivery_sent_ten_times_at_once_starts_one_run() {
    same_delivery_ten_times_at_once("webhook-support-triage.json").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scheme_dedupes_ten_concurrent_copies() {
    for (scheme, ..) in SCHEMES {
        same_delivery_ten_times_at_once(&format!("webhook-scheme-{scheme}.json")).await;
    }
}

#[tokio::test]
async fn a_duplicate_requeues_a_run_only_once_the_first_attempt_is_over() {
    let h = scheme_harness();
    let req = scheme_request("github");
    assert_eq!(h.ingest().handle(&req).await.status, 202);
    // Say the first enqueue was lost: the run sits in RECEIVED.
    h.queue.messages.lock().unwrap().clear();

    h.clock.advance(5);
    assert_eq!(h.ingest().handle(&req).await.status, 200);
    assert!(
        h.queue.messages.lock().unwrap().is_empty(),
        "within the in-flight window the first attempt may still enqueue"
    );

    h.clock.advance(60);
    assert_eq!(h.ingest().handle(&req).await.status, 200);
    let queued = h.queue.messages.lock().unwrap().clone();
    assert_eq!(queued.len(), 1, "an abandoned run is requeued");

    // Once started, a duplicate starts nothing.
    h.starter().start(&queued[0]).await.unwrap();
    h.clock.advance(3600);
    assert_eq!(h.ingest().handle(&req).await.status, 200);
    assert_eq!(h.queue.messages.lock().unwrap().len(), 1);
    let run = handoff_core::ports::Runs::get_run(h.store.as_ref(), &queued[0].run_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, RunStatus::Running);
}
