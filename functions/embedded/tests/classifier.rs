use handoff_embedded::{Classifier, ClassifierError, Example, TrainConfig, TrainingSet};

fn support_examples() -> Vec<Example> {
    let rows = [
        ("my card has not arrived yet", "card_arrival"),
        ("when will my new card be delivered", "card_arrival"),
        ("still waiting for the card in the post", "card_arrival"),
        ("card delivery is taking too long", "card_arrival"),
        ("how long does the card take to arrive", "card_arrival"),
        ("i was charged twice for one purchase", "duplicate_charge"),
        (
            "there is a double payment on my statement",
            "duplicate_charge",
        ),
        ("the same transaction appears two times", "duplicate_charge"),
        ("why was I billed twice", "duplicate_charge"),
        ("duplicate charge from the shop", "duplicate_charge"),
        ("how do I top up my account", "top_up"),
        ("add money to my balance", "top_up"),
        ("can I top up with a bank transfer", "top_up"),
        ("top up by card please", "top_up"),
        ("ways to put funds into the account", "top_up"),
    ];
    rows.iter().map(|(t, l)| Example::new(*t, *l)).collect()
}

#[test]
fn learns_the_labels_of_its_examples() {
    let model = Classifier::train(&support_examples(), &TrainConfig::default()).unwrap();
    assert_eq!(
        model.classify("my card never arrived").label,
        "card_arrival"
    );
    assert_eq!(model.classify("charged twice").label, "duplicate_charge");
    assert_eq!(model.classify("top up with transfer").label, "top_up");
}

#[test]
fn same_examples_give_the_same_predictions() {
    let one_thread = TrainConfig {
        threads: 1,
        ..TrainConfig::default()
    };
    let three_threads = TrainConfig {
        threads: 3,
        ..TrainConfig::default()
    };
    let a = Classifier::train(&support_examples(), &one_thread).unwrap();
    let b = Classifier::train(&support_examples(), &three_threads).unwrap();
    for text in ["card still missing", "billed two times", "hello there", ""] {
        assert_eq!(a.classify(text), b.classify(text));
    }
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn confidence_is_a_probability_and_ranks_are_ordered() {
    let model = Classifier::train(&support_examples(), &TrainConfig::default()).unwrap();
    for text in ["card", "twice", "zzz qqq", "", "top up top up top up"] {
        let p = model.classify(text);
        assert!((0.0..=1.0).contains(&p.confidence), "{p:?}");
        assert_eq!(p.ranked[0].label, p.label);
        assert_eq!(p.ranked.len(), 3);
        assert!(p.ranked.windows(2).all(|w| w[0].score >= w[1].score));
        let total: f32 = p.ranked.iter().map(|r| r.score).sum();
        assert!((total - 1.0).abs() < 1e-4);
    }
}

#[test]
fn a_saved_model_classifies_like_the_original() {
    let model = Classifier::train(&support_examples(), &TrainConfig::default()).unwrap();
    let loaded: Classifier = serde_json::from_str(&serde_json::to_string(&model).unwrap()).unwrap();
    assert_eq!(
        loaded.classify("where is my card"),
        model.classify("where is my card")
    );
}

#[test]
fn training_on_nothing_is_an_error() {
    assert_eq!(
        Classifier::train(&[], &TrainConfig::default()).unwrap_err(),
        ClassifierError::NoExamples
    );
}

#[test]
fn feedback_changes_a_later_prediction() {
    let config = TrainConfig::default();
    let mut set = TrainingSet::new(support_examples(), 100);
    let message = "I have been waiting for my refund to arrive";
    assert_eq!(
        set.train(&config).unwrap().classify(message).label,
        "card_arrival"
    );

    set.add_feedback(Example::new(message, "refund_not_showing_up"));
    set.add_feedback(Example::new("where is my refund", "refund_not_showing_up"));
    let retrained = set.train(&config).unwrap();

    assert_eq!(retrained.classify(message).label, "refund_not_showing_up");
    assert_eq!(
        retrained.classify("still waiting for the refund").label,
        "refund_not_showing_up"
    );
}

#[test]
fn a_correction_replaces_the_example_it_relabels_and_feedback_is_bounded() {
    let mut set = TrainingSet::new(support_examples(), 2);
    set.add_feedback(Example::new("Top up by card, please!", "card_payment"));
    let examples = set.examples();
    assert_eq!(examples.len(), support_examples().len());
    assert!(!examples.contains(&Example::new("top up by card please", "top_up")));

    for i in 0..5 {
        set.add_feedback(Example::new(format!("message {i}"), "other"));
    }
    assert_eq!(set.feedback_len(), 2);
}

/// Texts that share every n-gram, told apart only by their embeddings.
#[test]
fn a_fused_model_learns_from_embeddings_what_the_n_grams_cannot_tell() {
    let examples: Vec<Example> = (0..12)
        .map(|i| Example::new("same words", if i % 2 == 0 { "even" } else { "odd" }))
        .collect();
    let embeddings: Vec<Vec<f32>> = (0..12)
        .map(|i| {
            if i % 2 == 0 {
                vec![1.0, 0.0]
            } else {
                vec![0.0, 1.0]
            }
        })
        .collect();
    let weights = vec![1.0; examples.len()];
    let config = TrainConfig::default();
    let fused = Classifier::train_with(&examples, Some(&embeddings), &weights, &config).unwrap();
    assert!(fused.uses_embeddings());
    assert_eq!(
        fused.classify_with("same words", Some(&[0.0, 1.0])).label,
        "odd"
    );
    assert_eq!(
        fused.classify_with("same words", Some(&[1.0, 0.0])).label,
        "even"
    );

    let plain = Classifier::train(&examples, &config).unwrap();
    assert!(!plain.uses_embeddings());
    let p = plain.classify("same words");
    assert!(p.confidence < 0.6, "n-grams alone cannot tell: {p:?}");
}

#[test]
fn the_threshold_is_chosen_on_held_out_training_examples() {
    let mut examples = support_examples();
    // Enough per label for three calibration folds.
    examples.extend(support_examples());
    let model = Classifier::train(&examples, &TrainConfig::default()).unwrap();
    let threshold = model.threshold().expect("a threshold reaches the target");
    // Fewer than 20 examples per label: the target is stricter than 98%.
    assert_eq!(threshold.target_accuracy, 0.99);
    assert!(threshold.confidence > 0.0 && threshold.confidence <= 1.0);
    assert!(threshold.coverage > 0.0 && threshold.coverage <= 1.0);

    let tiny = Classifier::train(&support_examples()[..4], &TrainConfig::default()).unwrap();
    assert_eq!(tiny.threshold(), None, "too few examples to hold any out");
}
