//! Per-message latency of the embedded tier with and without the sentence
//! encoder, on one core: both models trained on all of BANKING77's training
//! split, then every message classified three times (embedding included
//! for the encoder tier). `scripts/bench-encoder` runs this and the reason
//! function's cold start together.
//!
//! RAYON_NUM_THREADS=1 cargo run --profile local -p handoff-embedded --example tiers_bench [-- CSV]

use std::time::Instant;

use handoff_embedded::encoder::{Availability, EmbeddingTable};
use handoff_embedded::eval::read_examples;
use handoff_embedded::{Classifier, Example, TrainConfig};

const DEFAULT_CSV: &str = "../shared/data/banking77/train.csv";
/// Messages timed per pass on the encoder tier (all of them on the other).
const ENCODER_MESSAGES: usize = 2000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or(DEFAULT_CSV.into());
    let examples = read_examples(path.as_ref())?;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into());
    println!(
        "{} examples from {path}; encoder threads: {threads}",
        examples.len()
    );
    let config = TrainConfig {
        threads: 1,
        ..TrainConfig::default()
    };

    let plain = Classifier::train(&examples, &config)?;
    let weights_free = passes(&examples, examples.len(), |text| {
        std::hint::black_box(plain.classify(text));
    });
    report("weights-free tier", &weights_free, "µs", 1e6);

    let encoder = match Availability::from_env() {
        Availability::Loaded(encoder) => encoder,
        Availability::Absent(why) => return Err(why.into()),
    };
    let started = Instant::now();
    let mut table = EmbeddingTable::default();
    table.add(
        &encoder,
        examples.iter().map(|e| e.text.as_str()),
        |_, _| (),
    )?;
    println!(
        "embedded {} training texts in {:.1} s",
        table.len(),
        started.elapsed().as_secs_f64()
    );
    let embeddings = table.of_examples(&examples).expect("every text embedded");
    let fused = Classifier::train_with(
        &examples,
        Some(&embeddings),
        &vec![1.0; examples.len()],
        &config,
    )?;
    let with_encoder = passes(&examples, ENCODER_MESSAGES, |text| {
        let embedding = encoder.embed(text).expect("the encoder embeds");
        std::hint::black_box(fused.classify_with(text, Some(&embedding)));
    });
    report("encoder tier", &with_encoder, "ms", 1e3);
    Ok(())
}

/// Three passes over the first `n` messages: on a shared machine one pass
/// can be preempted, so each is reported.
fn passes(examples: &[Example], n: usize, mut classify: impl FnMut(&str)) -> Vec<Vec<f64>> {
    (0..3)
        .map(|_| {
            let mut seconds: Vec<f64> = examples[..n.min(examples.len())]
                .iter()
                .map(|e| {
                    let start = Instant::now();
                    classify(std::hint::black_box(&e.text));
                    start.elapsed().as_secs_f64()
                })
                .collect();
            seconds.sort_by(f64::total_cmp);
            seconds
        })
        .collect()
}

fn report(tier: &str, passes: &[Vec<f64>], unit: &str, scale: f64) {
    for (i, seconds) in passes.iter().enumerate() {
        let at = |q: f64| seconds[((seconds.len() - 1) as f64 * q) as usize] * scale;
        println!(
            "{tier}, pass {}: {} messages, p50 {:.2} {unit}  p99 {:.2} {unit}",
            i + 1,
            seconds.len(),
            at(0.5),
            at(0.99)
        );
    }
}
