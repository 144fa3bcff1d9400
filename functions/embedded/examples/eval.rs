//! `handoff eval` until the CLI in infra/local wires the library in:
//!
//! cargo run --profile local -p handoff-embedded --example eval -- \
//!     --train ../shared/data/banking77/train.csv [--test FILE] [--shots N] \
//!     [--folds K] [--target 0.98] [--json] [--plot FILE] \
//!     [--learning-curve [--start N] [--batch N]]
//!
//! Without --test, it cross-validates on --train (stratified, --folds K);
//! the learning curve then holds out the first fold as its test set.

use std::path::PathBuf;

use clap::Parser;
use handoff_embedded::eval::{
    coverage_chart, cross_validate, learning_chart, learning_curve, read_examples, split_fold,
    train_test, EvalConfig, EvalReport, LearningCurve, Progress,
};
use handoff_embedded::split::stratified_folds;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    train: PathBuf,
    #[arg(long)]
    test: Option<PathBuf>,
    /// Train on only N examples per label.
    #[arg(long)]
    shots: Option<usize>,
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Accuracy the confidence threshold must reach.
    #[arg(long, default_value_t = 0.98)]
    target: f64,
    #[arg(long)]
    json: bool,
    /// Write an SVG chart here.
    #[arg(long)]
    plot: Option<PathBuf>,
    #[arg(long)]
    learning_curve: bool,
    /// Examples per label the learning curve starts from.
    #[arg(long, default_value_t = 10)]
    start: usize,
    /// Corrections per batch in the learning curve.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
}

fn bar(hidden: bool) -> ProgressBar {
    let bar = if hidden {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template"),
    );
    bar
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let train = read_examples(&args.train)?;
    let test = args.test.as_deref().map(read_examples).transpose()?;
    let config = EvalConfig {
        shots: args.shots,
        target_accuracy: args.target,
        ..EvalConfig::default()
    };
    let progress = bar(args.json);
    let mut tick = |p: Progress| {
        progress.set_length(p.total as u64);
        progress.set_position(p.done as u64);
    };

    if args.learning_curve {
        progress.set_message("learning curve");
        let (train, test) = match test {
            Some(test) => (train, test),
            None => {
                let fold = stratified_folds(
                    train.iter().map(|e| e.label.as_str()),
                    args.folds,
                    config.seed,
                );
                let (test, train) = split_fold(&train, &fold, 0);
                (train, test)
            }
        };
        let curve = learning_curve(&train, &test, args.start, args.batch, &config, &mut tick)?;
        progress.finish_and_clear();
        if let Some(path) = &args.plot {
            std::fs::write(path, learning_chart(&curve).to_svg())?;
        }
        print_curve(&curve, args.json)?;
        return Ok(());
    }

    progress.set_message("evaluating");
    let report = match &test {
        Some(test) => train_test(&train, test, &config)?,
        None => cross_validate(&train, args.folds, &config, &mut tick)?,
    };
    progress.finish_and_clear();
    if let Some(path) = &args.plot {
        std::fs::write(path, coverage_chart(&report.metrics).to_svg())?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &EvalReport) {
    let m = &r.metrics;
    println!(
        "{} on {} messages, {} training examples, {:.2} s per training",
        r.method, m.count, r.train_examples, r.train_seconds
    );
    println!("accuracy  {:.2}%", m.accuracy * 100.0);
    println!("macro-F1  {:.2}%", m.macro_f1 * 100.0);
    println!(
        "coverage at {:.0}% accuracy: {:.1}% of messages, confidence threshold {:.3}",
        m.target_accuracy * 100.0,
        m.coverage_at_target * 100.0,
        m.threshold_at_target
    );
    println!(
        "\n{:<50} {:>9} {:>9} {:>9} {:>8}",
        "label", "precision", "recall", "F1", "support"
    );
    for l in &m.per_label {
        println!(
            "{:<50} {:>9.3} {:>9.3} {:>9.3} {:>8}",
            l.label, l.precision, l.recall, l.f1, l.support
        );
    }
    println!("\nmost confused (truth -> predicted):");
    for c in m.confused.iter().take(10) {
        println!("{:>5}  {} -> {}", c.count, c.truth, c.predicted);
    }
    println!("\n{:>10} {:>9} {:>9}", "threshold", "coverage", "accuracy");
    let step = (m.coverage_curve.len() / 10).max(1);
    for p in m.coverage_curve.iter().step_by(step) {
        println!(
            "{:>10.3} {:>8.1}% {:>8.2}%",
            p.threshold,
            p.coverage * 100.0,
            p.accuracy * 100.0
        );
    }
}

fn print_curve(curve: &LearningCurve, json: bool) -> Result<(), serde_json::Error> {
    if json {
        println!("{}", serde_json::to_string_pretty(curve)?);
        return Ok(());
    }
    println!(
        "{:>9} {:>12} {:>9} {:>9}",
        "examples", "corrections", "accuracy", "macro-F1"
    );
    for p in &curve.points {
        println!(
            "{:>9} {:>12} {:>8.2}% {:>8.2}%",
            p.examples,
            p.corrections,
            p.accuracy * 100.0,
            p.macro_f1 * 100.0
        );
    }
    println!("all data at once: {:.2}%", curve.all_at_once * 100.0);
    Ok(())
}
