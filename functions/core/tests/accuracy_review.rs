//! The weekly accuracy review reads the reviewers' corrections of the week
//! and stores the latest review per workflow.

mod support;

use chrono::Duration;
use handoff_core::domain::*;
use handoff_core::observe::review;
use handoff_core::ports::*;
use support::*;

fn correction(h: &Harness, predicted: &str, final_label: &str, days_ago: i64) -> Feedback {
    Feedback {
        workflow: "support-triage".into(),
        run_id: RunId::new(),
        at: h.clock.now() - Duration::days(days_ago),
        text: "text".into(),
        predicted_label: predicted.into(),
        confidence: 0.8,
        final_label: final_label.into(),
        edits: None,
        reviewer: "ops@example.com".into(),
        status: FeedbackStatus::Confirmed,
    }
}

#[tokio::test]
async fn the_review_counts_kept_and_changed_labels_of_the_week_and_is_stored() {
    let h = Harness::new();
    for f in [
        correction(&h, "refund_request", "refund_request", 1),
        correction(&h, "refund_request", "card_problem", 2),
        correction(&h, "refund_request", "refund_request", 3),
        correction(&h, "card_problem", "card_problem", 6),
        correction(&h, "card_problem", "refund_request", 9),
    ] {
        h.store.put_feedback(&f).await.unwrap();
    }
    assert!(review::latest(h.store.as_ref(), "support-triage")
        .await
        .unwrap()
        .is_none());

    let now = h.clock.now();
    let reviews = review::run(h.store.as_ref(), &["support-triage"], now, 7)
        .await
        .unwrap();
    let r = &reviews[0];
    assert_eq!((r.reviewed, r.kept), (4, 3), "the 9-day-old one is out");
    let refund = &r.labels["refund_request"];
    assert_eq!((refund.reviewed, refund.kept), (3, 2));
    assert_eq!(refund.changed_to["card_problem"], 1);
    assert_eq!(r.labels["card_problem"].kept, 1);
    assert_eq!(r.accuracy(), Some(0.75));

    let stored = review::latest(h.store.as_ref(), "support-triage")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(&stored, r);
}
