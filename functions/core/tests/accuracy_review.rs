//! The weekly accuracy review reads the reviewers' corrections of the week
//! and stores the latest review per workflow.

use crate::support::*;
use chrono::Duration;
use handoff_core::domain::*;
use handoff_core::observe::review;
use handoff_core::ports::*;

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
    let workflow = h.catalog.get("support-triage").unwrap();
    let reviews = review::run(h.store.as_ref(), &[workflow.as_ref()], now, 7)
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

/// A store written before the review log kept one review per workflow in a
/// slot of a pseudo-run: read until the first new review is kept.
#[tokio::test]
async fn a_review_kept_before_the_review_log_is_still_the_latest() {
    let h = Harness::new();
    let now = h.clock.now();
    let old = review::AccuracyReview {
        workflow: "support-triage".into(),
        from: now - Duration::days(7),
        to: now,
        reviewed: 2,
        kept: 1,
        labels: Default::default(),
        autonomy: Default::default(),
        changes: Vec::new(),
    };
    h.store
        .put_slot(
            &RunId("accuracy-review".into()),
            &Slot::Review("support-triage".into()),
            &serde_json::to_value(&old).unwrap(),
        )
        .await
        .unwrap();
    let latest = review::latest(h.store.as_ref(), "support-triage").await;
    assert_eq!(latest.unwrap(), Some(old));

    let workflow = h.catalog.get("support-triage").unwrap();
    let next = now + Duration::days(7);
    review::run(h.store.as_ref(), &[workflow.as_ref()], next, 7)
        .await
        .unwrap();
    let latest = review::latest(h.store.as_ref(), "support-triage").await;
    assert_eq!(latest.unwrap().unwrap().to, next);
}

/// support-triage with earned autonomy on its classify task.
fn autonomous_triage() -> handoff_core::spec::Workflow {
    shipped_with(
        "support-triage",
        "    review_below: 0.35\n",
        "    review_below: 0.35\n    autonomy: {target_error: 0.02, confidence: 0.95, min_samples: 200}\n",
    )
}

fn verdict(h: &Harness, label: &str, right: bool, confidence: f64) -> Feedback {
    let mut f = correction(h, label, if right { label } else { "other" }, 1);
    f.confidence = confidence;
    f
}

#[tokio::test]
async fn autonomy_is_earned_on_verdicts_recorded_and_lost_again() {
    use handoff_core::observe::autonomy::AutonomyStatus;
    use handoff_core::stages::decide::with_autonomy;

    let h = Harness::new();
    let workflow = autonomous_triage();
    for i in 0..300 {
        h.store
            .put_feedback(&verdict(&h, "card_problem", true, 0.9))
            .await
            .unwrap();
        h.store
            .put_feedback(&verdict(&h, "refund_request", i % 10 != 0, 0.9))
            .await
            .unwrap();
    }
    let now = h.clock.now();
    let review = &review::run(h.store.as_ref(), &[&workflow], now, 7)
        .await
        .unwrap()[0];
    let card = &review.autonomy["card_problem"];
    assert_eq!(card.status, AutonomyStatus::Auto);
    assert_eq!(
        (card.samples, card.errors, card.threshold),
        (300, 0, Some(0.9))
    );
    assert_eq!(
        review.autonomy["refund_request"].status,
        AutonomyStatus::Review
    );
    assert_eq!(review.autonomy["account_access"].samples, 0);
    let docs = review::autonomy_metrics(review);
    let card_doc = docs
        .iter()
        .find(|d| {
            d.dimensions
                .contains(&("label".into(), "card_problem".into()))
        })
        .expect("a document per label");
    use handoff_core::observe::emf::Metric;
    assert_eq!(card_doc.get(Metric::AutonomySamples), Some(300.0));
    assert_eq!(card_doc.get(Metric::AutonomyCoverage), Some(1.0));
    assert!(card_doc.get(Metric::AutonomyErrorBound).unwrap() < 0.02);
    assert_eq!(docs.len(), workflow.spec.reason.primary_labels().len());

    // The rules let a card problem act alone; autonomy agrees only at or
    // above the proven threshold, and never for a label without evidence.
    let acting_alone = |label: &str, confidence: f64| {
        let ai = AiResult {
            outputs: [(
                "issue_type".to_string(),
                serde_json::json!({"label": label, "confidence": confidence, "tier": "embedded"}),
            )]
            .into(),
            ..AiResult::default()
        };
        let decision = Decision {
            rule: Some("card-trouble".into()),
            route: "cards-team".into(),
            priority: Priority::Urgent,
            actions: vec![],
            needs_approval: false,
            reason: "rule".into(),
        };
        with_autonomy(decision, &workflow, &ai, &review.autonomy)
    };
    assert!(!acting_alone("card_problem", 0.95).needs_approval);
    let low = acting_alone("card_problem", 0.5);
    assert!(
        low.needs_approval && low.reason.contains("threshold"),
        "{}",
        low.reason
    );
    let unproven = acting_alone("account_access", 0.99);
    assert!(unproven.needs_approval && unproven.reason.contains("0 of the 200"));

    // Reviewers start to disagree: the next review demotes the label.
    for _ in 0..40 {
        h.store
            .put_feedback(&verdict(&h, "card_problem", false, 0.9))
            .await
            .unwrap();
    }
    let next_week = now + chrono::Duration::days(7);
    let again = &review::run(h.store.as_ref(), &[&workflow], next_week, 7)
        .await
        .unwrap()[0];
    assert_eq!(
        again.autonomy["card_problem"].status,
        AutonomyStatus::Review
    );

    // Each review carries the changes it made: the trail of the label.
    let mut changes: Vec<_> = review::history(h.store.as_ref(), workflow.name(), 10)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|r| r.changes)
        .collect();
    changes.reverse();
    assert_eq!(changes.len(), 2, "the promotion, then the demotion");
    assert!(changes.iter().all(|c| c.kind == "autonomy.changed"));
    assert_eq!(changes[0].label, "card_problem");
    assert_eq!(changes[0].to.status, AutonomyStatus::Auto);
    assert_eq!(
        changes[1].from.as_ref().unwrap().status,
        AutonomyStatus::Auto
    );
    assert_eq!(changes[1].to.errors, 40);
}
