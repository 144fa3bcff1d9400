//! Training off the request path: the trainer stores a model version per
//! classify task, the AI step classifies with the newest one, and a
//! reviewer's corrections change its predictions after the next retrain,
//! not before.

use std::sync::Arc;

use chrono::Duration;
use handoff_core::domain::*;
use handoff_core::model::encoder::Availability;
use handoff_core::model::{EmbeddedModel, Tiers};
use handoff_core::ports::*;
use handoff_core::stages::train::{Train, Trained};
use handoff_core::testing::*;

const SAMPLE: &str = "webhook-support-triage.json";
const MESSAGE: &str = "The glorp widget is wobbling again";

/// Both sides without the encoder: quick, and the same model kind, as the
/// reason and review functions share one encoder in a deployment.
fn n_gram_model() -> EmbeddedModel {
    let mut model =
        EmbeddedModel::with_encoder(Availability::Absent("turned off for this test".into()));
    model.refresh = std::time::Duration::ZERO;
    model
}

fn harness() -> (Harness, Train) {
    let mut h = Harness::new();
    h.tiers = Tiers::with_embedded(Arc::new(n_gram_model()));
    let train = Train {
        catalog: h.catalog.clone(),
        store: h.store.clone(),
        model: Arc::new(n_gram_model()),
        clock: h.clock.clone(),
    };
    (h, train)
}

/// The label and the audited note of the primary task's embedded call.
async fn classified(h: &Harness, n: u32) -> (String, String) {
    let run = h.seed_next_run(SAMPLE, n, Some(MESSAGE)).await;
    h.context().run(&run).await.unwrap();
    h.reason().run(&run).await.unwrap();
    let ai = h.stored_ai(&run.run_id).await;
    let trail = h.store.trail(&run.run_id).await.unwrap();
    let finished = &trail
        .iter()
        .find(|e| e.kind == "reason.finished")
        .unwrap()
        .detail;
    let task = finished["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == "issue_type")
        .unwrap();
    let note = task["calls"][0]["detail"].as_str().unwrap_or_default();
    (
        ai.classification("issue_type").unwrap().label,
        note.to_string(),
    )
}

fn issue_type(trained: &[Trained]) -> &Trained {
    trained
        .iter()
        .find(|t| t.workflow == "support-triage" && t.task == "issue_type")
        .expect("issue_type trained")
}

#[tokio::test]
async fn corrections_change_predictions_after_the_next_retrain_and_not_before() {
    let (h, train) = harness();
    let (before, note) = classified(&h, 1).await;
    assert!(
        note.contains("no trained model is stored")
            && note.contains("trained in-process on the spec's"),
        "{note}"
    );

    let first = train.run().await.unwrap();
    let v1 = issue_type(&first);
    assert!(v1.new && v1.corrections == 0, "{v1:?}");
    let every_classify_task = h
        .catalog
        .names()
        .flat_map(|n| h.catalog.get(n).unwrap().spec.reason.tasks())
        .filter(|t| matches!(t.kind, handoff_core::spec::TaskKind::Classify(_)))
        .count();
    assert_eq!(first.len(), every_classify_task);
    let (label, note) = classified(&h, 2).await;
    assert_eq!(label, before);
    assert!(
        note.contains(&format!("classifier v{}", v1.version)),
        "{note}"
    );

    // Reviewers say messages like it are another kind of issue.
    let workflow = h.catalog.get("support-triage").unwrap();
    let wanted = first_label_other_than(workflow, &before);
    for (i, text) in [
        "the glorp widget is wobbling",
        "my glorp widget wobbles",
        "glorp widget wobbling since monday",
        "wobbling glorp widget again",
        "again the glorp widget wobbles",
        "glorp widget: wobbling",
    ]
    .into_iter()
    .enumerate()
    {
        h.store
            .put_feedback(&Feedback {
                workflow: "support-triage".into(),
                run_id: RunId(format!("run-correction-{i}")),
                at: h.clock.now() - Duration::minutes(5),
                text: text.into(),
                predicted_label: before.clone(),
                confidence: 0.4,
                final_label: wanted.clone(),
                edits: None,
                reviewer: "agent@example.com".into(),
                status: FeedbackStatus::Confirmed,
            })
            .await
            .unwrap();
    }
    let (label, _) = classified(&h, 3).await;
    assert_eq!(
        label, before,
        "the request path does not train on corrections"
    );

    let second = train.run().await.unwrap();
    let v2 = issue_type(&second);
    assert!(v2.new && v2.version > v1.version, "{v2:?}");
    assert_eq!(v2.corrections, 6);
    let (label, note) = classified(&h, 4).await;
    assert_eq!(label, wanted);
    assert!(
        note.contains(&format!("classifier v{}", v2.version)) && note.contains("6 corrections"),
        "{note}"
    );

    let third = train.run().await.unwrap();
    assert!(!issue_type(&third).new, "an unchanged set is not retrained");
}

#[tokio::test]
async fn a_model_of_another_kind_or_spec_is_not_used() {
    let (h, _) = harness();
    let with_encoder_kind = ModelMeta {
        workflow: "support-triage".into(),
        task: "issue_type".into(),
        version: 1,
        trained_at: h.clock.now(),
        spec_digest: "whatever the trainer saw".into(),
        training_digest: "x".into(),
        examples: 1,
        corrections: 0,
        model: "embedded/ngrams+all-MiniLM-L6-v2".into(),
    };
    h.store
        .put_model(&with_encoder_kind, b"not even a classifier")
        .await
        .unwrap();
    let (_, note) = classified(&h, 1).await;
    assert!(note.contains("no trained model is stored"), "{note}");
}

fn first_label_other_than(workflow: &handoff_core::spec::Workflow, label: &str) -> String {
    let Some((_, classify)) = workflow.spec.reason.primary() else {
        panic!("support-triage classifies");
    };
    classify
        .labels
        .iter()
        .map(|l| l.name.clone())
        .find(|l| l != label)
        .unwrap()
}
