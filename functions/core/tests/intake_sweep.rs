//! A run stored but never queued (the queue send failed after the store
//! write) is queued again by the ingest function's sweep, once it has
//! clearly stalled; runs that started, or may still be on their way, are
//! left alone.

use handoff_core::domain::*;
use handoff_core::ports::*;
use handoff_core::stages::ingest::STALLED_AFTER;
use handoff_core::testing::*;

const SUPPORT: &str = "webhook-support-triage.json";

#[tokio::test]
async fn a_run_whose_queue_message_was_lost_is_queued_again_once_stalled() {
    let h = Harness::new();
    let response = h.ingest().handle(&sample_request(SUPPORT)).await;
    assert_eq!(response.status, 202);
    // The send "failed": the run is stored, its message is gone.
    let lost = h.queue.messages.lock().unwrap().pop().expect("enqueued");
    let run = h.store.get_run(&lost.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Received);

    assert_eq!(
        h.ingest().requeue_stalled().await.unwrap(),
        0,
        "maybe still on its way"
    );
    h.clock.advance(STALLED_AFTER.num_seconds());
    assert_eq!(h.ingest().requeue_stalled().await.unwrap(), 1);
    let queued = h.queue.messages.lock().unwrap().clone();
    assert_eq!(queued, vec![lost.clone()]);
    let trail = h.store.trail(&lost.run_id).await.unwrap();
    assert!(trail.iter().any(|e| e.kind == "run.requeued"), "{trail:?}");

    // Once started, it is no longer swept.
    h.starter().start(&lost).await.unwrap();
    h.clock.advance(STALLED_AFTER.num_seconds());
    assert_eq!(h.ingest().requeue_stalled().await.unwrap(), 0);
}
