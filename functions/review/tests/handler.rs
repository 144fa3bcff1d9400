use chrono::Duration;
use handoff_core::domain::{Feedback, FeedbackStatus, RunId};
use handoff_core::observe::review::latest;
use handoff_core::ports::{Clock, FeedbackLog};
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};
use review::Reviewer;
use serde_json::json;

#[tokio::test]
async fn the_scheduled_review_stores_one_review_per_workflow() {
    let h = Harness::new();
    for (predicted, final_label) in [("invoice", "invoice"), ("invoice", "statement")] {
        h.store
            .put_feedback(&Feedback {
                workflow: "invoice-approval".into(),
                run_id: RunId::new(),
                at: h.clock.now() - Duration::days(1),
                text: String::new(),
                predicted_label: predicted.into(),
                confidence: 0.7,
                final_label: final_label.into(),
                edits: None,
                reviewer: "ap@example.com".into(),
                status: FeedbackStatus::Confirmed,
            })
            .await
            .unwrap();
    }
    let reviewer = Reviewer {
        catalog: h.catalog.clone(),
        store: h.store.clone(),
        clock: h.clock.clone(),
        days: 7,
    };
    let scheduled = json!({ "source": "aws.scheduler", "detail": {} });
    let out = review::handle(&reviewer, LambdaEvent::new(scheduled, Context::default()))
        .await
        .unwrap();
    assert_eq!(
        out["reviews"].as_array().unwrap().len(),
        h.catalog.names().count()
    );
    let stored = latest(h.store.as_ref(), "invoice-approval")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!((stored.reviewed, stored.kept), (2, 1));
    assert_eq!(stored.labels["invoice"].changed_to["statement"], 1);
}
