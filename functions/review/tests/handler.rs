use chrono::Duration;
use handoff_core::domain::{Feedback, FeedbackStatus, RunId};
use handoff_core::model::encoder::Availability;
use handoff_core::model::EmbeddedModel;
use handoff_core::observe::review::latest;
use handoff_core::ports::{Clock, FeedbackLog, ModelArtifacts};
use handoff_core::stages::train::Train;
use handoff_core::testing::*;
use lambda_runtime::{Context, LambdaEvent};
use review::Reviewer;
use serde_json::json;
use std::sync::Arc;

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
    let reviewer = reviewer(&h);
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

fn reviewer(h: &Harness) -> Reviewer {
    Reviewer {
        catalog: h.catalog.clone(),
        store: h.store.clone(),
        clock: h.clock.clone(),
        days: 7,
        train: Train {
            catalog: h.catalog.clone(),
            store: h.store.clone(),
            model: Arc::new(EmbeddedModel::with_encoder(Availability::Absent(
                "not needed here".into(),
            ))),
            clock: h.clock.clone(),
        },
        metrics: h.metrics.clone(),
    }
}

#[tokio::test]
async fn the_train_schedule_stores_a_model_per_classify_task_and_no_review() {
    let h = Harness::new();
    let reviewer = reviewer(&h);
    let scheduled = json!({ "job": "train" });
    let out = review::handle(&reviewer, LambdaEvent::new(scheduled, Context::default()))
        .await
        .unwrap();
    let trained = out["trained"].as_array().unwrap();
    assert!(!trained.is_empty());
    for t in trained {
        assert_eq!(t["new"], true, "{t}");
        let stored = h
            .store
            .latest_model(t["workflow"].as_str().unwrap(), t["task"].as_str().unwrap())
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(json!(stored.version), t["version"]);
        assert_eq!(stored.model, "embedded/ngrams");
    }
    assert!(latest(h.store.as_ref(), "invoice-approval")
        .await
        .unwrap()
        .is_none());
}
