use std::path::PathBuf;

use handoff_embedded::eval::{
    coverage_chart, learning_chart, read_examples, train_test, EvalConfig, LearningCurve,
    LearningPoint, Metrics, Outcome,
};
use handoff_embedded::split::sample_per_label;
use handoff_embedded::{Example, TrainConfig};
use regex::Regex;

/// Tags balance, attributes are quoted, `&` only starts an entity, and the
/// root is `<svg>`: enough for any browser's XML parser to accept it.
fn assert_well_formed_svg(svg: &str) {
    let tag = Regex::new(r#"<(/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(/?)>"#).unwrap();
    let amp = Regex::new(r"&(?:amp|lt|gt|quot|apos|#\d+);").unwrap();
    let mut stack: Vec<String> = Vec::new();
    let mut last = 0;
    let mut roots = 0;
    for c in tag.captures_iter(svg) {
        let whole = c.get(0).unwrap();
        let between = &svg[last..whole.start()];
        assert!(!between.contains(['<', '>']), "stray markup: {between:?}");
        assert!(
            !amp.replace_all(between, "").contains('&'),
            "raw & in {between:?}"
        );
        last = whole.end();
        let name = c[2].to_string();
        if stack.is_empty() {
            roots += 1;
            assert_eq!(name, "svg");
        }
        match (&c[1], &c[4]) {
            ("/", _) => assert_eq!(stack.pop().as_deref(), Some(name.as_str())),
            (_, "/") => {}
            _ => stack.push(name),
        }
    }
    assert!(svg[last..].trim().is_empty());
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1);
}

#[test]
fn coverage_plot_is_well_formed_svg() {
    let outcomes: Vec<Outcome> = (0..50)
        .map(|i| Outcome {
            truth: format!("l{}", i % 5),
            predicted: format!("l{}", if i % 7 == 0 { 0 } else { i % 5 }),
            confidence: 1.0 - i as f32 / 60.0,
            threshold: None,
        })
        .collect();
    let mut metrics = Metrics::compute(&outcomes, 0.9);
    metrics.per_label[0].label = "a <tricky> & \"quoted\" label".into();
    let svg = coverage_chart(&metrics).to_svg();
    assert_well_formed_svg(&svg);
    assert!(svg.contains("polyline"));
}

#[test]
fn learning_plot_is_well_formed_svg() {
    let curve = LearningCurve {
        points: (0..4)
            .map(|i| LearningPoint {
                examples: 100 * (i + 1),
                corrections: 100 * i,
                accuracy: 0.7 + 0.05 * i as f64,
                macro_f1: 0.7,
                coverage_at_target: 0.5,
            })
            .collect(),
        all_at_once: 0.86,
    };
    assert_well_formed_svg(&learning_chart(&curve).to_svg());
}

/// The shared data sits beside the checkout; CI clones with it in place, so
/// a missing file is a failure, never a skip.
fn banking77() -> Vec<Example> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/banking77/train.csv");
    read_examples(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A small stratified sample keeps this fast in the dev profile; the full
/// 5-fold measurement (the bench example) is far above this floor.
#[test]
fn banking77_sample_clears_an_accuracy_floor() {
    let all = banking77();
    assert_eq!(all.len(), 10_003);
    let picked = sample_per_label(all.iter().map(|e| e.label.as_str()), 25, 3);
    let (train, test): (Vec<Example>, Vec<Example>) = picked
        .iter()
        .enumerate()
        .map(|(n, &i)| (n, all[i].clone()))
        .fold((Vec::new(), Vec::new()), |(mut tr, mut te), (n, e)| {
            if n % 5 == 0 {
                te.push(e)
            } else {
                tr.push(e)
            }
            (tr, te)
        });
    let config = EvalConfig {
        train: TrainConfig {
            calibration_folds: 0,
            ..TrainConfig::default()
        },
        ..EvalConfig::default()
    };
    let report = train_test(&train, &test, &config).unwrap();
    assert!(
        report.metrics.accuracy >= 0.70,
        "{}",
        report.metrics.accuracy
    );
    assert_eq!(report.metrics.per_label.len(), 77);
}
