//! `handoff eval`: measures the embedded classifier on `text,category` CSVs.
//!
//! Without --test it cross-validates on --train (stratified, --folds K); the
//! learning curve then holds out the first fold as its test set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use handoff_embedded::encoder::{self, Availability, EmbeddingTable};
use handoff_embedded::eval::{
    coverage_chart, cross_validate, learning_chart, learning_curve, read_examples, read_label_map,
    relabel, split_fold, train_test, EvalConfig, EvalReport, LearningCurve, Progress,
};
use handoff_embedded::split::stratified_folds;
use handoff_embedded::Example;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labelled messages: a CSV with `text` and `category` (or `label`) columns.
    #[arg(long, required_unless_present = "task")]
    pub train: Option<PathBuf>,
    /// Measure one AI task of a workflow instead, through its tiers:
    /// `WORKFLOW/TASK` (e.g. support-triage/issue_type).
    #[arg(
        long,
        value_name = "WORKFLOW/TASK",
        requires = "data",
        conflicts_with = "train"
    )]
    pub task: Option<String>,
    /// With --task: JSONL of `{text, label}` (classify) or
    /// `{text, expected: {…}}` (extract), optionally `event`, `context` and
    /// `documents` (files from the JSONL's folder, read as a run reads them).
    #[arg(long, value_name = "FILE", requires = "task")]
    pub data: Option<PathBuf>,
    /// With --task: ask this tier alone instead of the task's cascade.
    #[arg(long, requires = "task")]
    pub tier: Option<String>,
    /// With --task: examples answered at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// With --task: only the first N examples.
    #[arg(long, requires = "task")]
    pub limit: Option<usize>,
    /// With --task: workflow specs from this directory instead of the built-in ones.
    #[arg(long, requires = "task")]
    pub workflows: Option<PathBuf>,
    /// With --task: what reads the rows' scanned documents (`none`: a scan
    /// is unreadable, as on a host without OCR).
    #[arg(long, value_enum, default_value = "tesseract")]
    pub ocr: super::eval_task::OcrChoice,
    #[command(flatten)]
    pub llm: super::stack::LlmArgs,
    /// A held-out CSV to score; without it, --train is cross-validated.
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Train on only N examples per label.
    #[arg(long)]
    pub shots: Option<usize>,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Accuracy the confidence threshold must reach.
    #[arg(long, default_value_t = 0.98)]
    pub target: f64,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG chart here (coverage against accuracy, or the learning curve).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Start from --start examples per label and feed the rest as reviewer
    /// corrections in batches of --batch.
    #[arg(long)]
    pub learning_curve: bool,
    /// Examples per label the learning curve starts from.
    #[arg(long, default_value_t = 10, requires = "learning_curve")]
    pub start: usize,
    /// Corrections per batch in the learning curve.
    #[arg(long, default_value_t = 1000, requires = "learning_curve")]
    pub batch: usize,
    /// Add each label's own name (underscores as spaces) to the training
    /// examples, at weight 3; not with --learning-curve.
    #[arg(long, conflicts_with = "learning_curve")]
    pub label_names: bool,
    /// α: the weight of the sentence embedding beside the n-grams; with
    /// several (`1,2,3`), each model picks the one that scores best on
    /// held-out folds of its training data, ties going to the smallest
    /// [default: 1,0.5,2].
    #[arg(long, value_delimiter = ',')]
    pub alpha: Option<Vec<f32>>,
    /// The linear model's inverse regularisation strength [default: 1 for
    /// the SVM, 100 for the softmax model trained when a label has under 20
    /// examples].
    #[arg(long)]
    pub c: Option<f32>,
    /// Classify with n-grams only, without the sentence encoder.
    #[arg(long)]
    pub weights_free: bool,
    /// With --shots: repeat with this many sampling seeds and report the mean.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// An `intent,label` CSV relabelling the data's categories (e.g. to a
    /// workflow's labels) before training and testing.
    #[arg(long)]
    pub map: Option<PathBuf>,
}

pub fn eval(args: EvalArgs) -> anyhow::Result<i32> {
    if let Some(task) = &args.task {
        return eval_task(&args, task);
    }
    let train_path = args
        .train
        .clone()
        .expect("clap requires --train without --task");
    if args.folds < 2 {
        bail!("--folds {}: cross-validation needs at least 2", args.folds);
    }
    if !(args.target > 0.0 && args.target <= 1.0) {
        bail!("--target {}: expected an accuracy in (0, 1]", args.target);
    }
    if args.learning_curve && (args.start == 0 || args.batch == 0) {
        bail!("--start and --batch must be at least 1");
    }
    let map = args
        .map
        .as_deref()
        .map(|path| read_label_map(existing(path)?).map_err(|e| anyhow!(e)))
        .transpose()?;
    let load = |path: &Path| -> anyhow::Result<Vec<Example>> {
        let examples = read_examples(existing(path)?)?;
        if examples.is_empty() {
            bail!("{}: no examples", path.display());
        }
        match &map {
            Some(map) => {
                relabel(examples, map).with_context(|| format!("relabelling {}", path.display()))
            }
            None => Ok(examples),
        }
    };
    let train = load(&train_path)?;
    let test = args.test.as_deref().map(load).transpose()?;
    if let Some(shots) = args.shots {
        check_shots(&train, shots, test.is_none().then_some(args.folds))?;
    }
    if test.is_none() {
        check_folds(&train, args.folds)?;
    }

    if args.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    if let Some(alpha) = &args.alpha {
        if alpha.is_empty() || alpha.iter().any(|a| !a.is_finite() || *a < 0.0) {
            bail!("--alpha: expected weights of 0 or more, e.g. 2 or 1,2,3");
        }
    }
    let progress = bar(args.json);
    let (embeddings, model) =
        embeddings(&args, [&train, test.as_deref().unwrap_or(&[])], &progress)?;
    let mut config = EvalConfig {
        shots: args.shots,
        target_accuracy: args.target,
        label_names: if args.label_names { 3.0 } else { 0.0 },
        embeddings,
        ..EvalConfig::default()
    };
    config.train.target_accuracy = args.target;
    if let Some(alpha) = &args.alpha {
        config.train.embedding_weights = alpha.clone();
    }
    if let Some(c) = args.c {
        config.train.linear.c = c;
        config.train.linear.softmax_c = c;
    }
    if !args.json {
        println!("model: {model}");
    }
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
            write_plot(path, &learning_chart(&curve).to_svg())?;
        }
        print_curve(&curve, args.json)?;
        return Ok(0);
    }

    progress.set_message("evaluating");
    let mut reports = Vec::new();
    for seed in 1..=args.seeds {
        config.seed = seed;
        reports.push(match &test {
            Some(test) => train_test(&train, test, &config)?,
            None => cross_validate(&train, args.folds, &config, &mut tick)?,
        });
    }
    progress.finish_and_clear();
    if reports.len() > 1 {
        print_seeds(&reports, args.json)?;
    }
    let report = reports.swap_remove(0);
    if let Some(path) = &args.plot {
        write_plot(path, &coverage_chart(&report.metrics).to_svg())?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(0)
}

/// The sentence embeddings of every text in `sets` (and of every label
/// name with --label-names), unless --weights-free or the encoder is absent; and what the
/// model is, in words.
fn embeddings(
    args: &EvalArgs,
    sets: [&[Example]; 2],
    progress: &ProgressBar,
) -> anyhow::Result<(Option<Arc<EmbeddingTable>>, String)> {
    if args.weights_free {
        return Ok((None, "n-grams only (--weights-free)".into()));
    }
    let encoder = match encoder::shared() {
        Availability::Loaded(encoder) => encoder,
        Availability::Absent(why) => return Ok((None, format!("n-grams only: {why}"))),
    };
    // Label names are training texts only with --label-names.
    let names = args.label_names;
    let texts = sets.iter().flat_map(|set| {
        set.iter().flat_map(move |e| {
            std::iter::once(e.text.as_str()).chain(names.then_some(e.label.as_str()))
        })
    });
    let mut table = EmbeddingTable::default();
    progress.set_message("embedding");
    table.add(encoder, texts, |done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })?;
    let candidates = args
        .alpha
        .clone()
        .unwrap_or_else(|| handoff_embedded::TrainConfig::default().embedding_weights);
    let listed: Vec<String> = candidates.iter().map(f32::to_string).collect();
    let alpha = match listed.as_slice() {
        [one] => format!("α = {one}"),
        _ => format!(
            "α chosen from {} on held-out folds of each training set",
            listed.join(", ")
        ),
    };
    let model = format!(
        "n-grams + {} sentence embeddings ({alpha})",
        encoder::MODEL_NAME
    );
    Ok((Some(Arc::new(table)), model))
}

/// Each seed's headline figures and their mean.
fn print_seeds(reports: &[EvalReport], json: bool) -> anyhow::Result<()> {
    let mean =
        |f: &dyn Fn(&EvalReport) -> f64| reports.iter().map(f).sum::<f64>() / reports.len() as f64;
    let accuracy = |r: &EvalReport| r.metrics.accuracy;
    let trained_coverage = |r: &EvalReport| r.metrics.trained_threshold.map_or(0.0, |t| t.coverage);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "seeds": reports.len(),
                "accuracy": reports.iter().map(accuracy).collect::<Vec<_>>(),
                "mean_accuracy": mean(&accuracy),
                "mean_trained_coverage": mean(&trained_coverage),
            })
        );
        return Ok(());
    }
    for (seed, r) in reports.iter().enumerate() {
        println!(
            "seed {}: accuracy {:.2}%",
            seed + 1,
            r.metrics.accuracy * 100.0
        );
    }
    println!(
        "mean over {} seeds: accuracy {:.2}%, coverage at the trained threshold {:.1}%\n",
        reports.len(),
        mean(&accuracy) * 100.0,
        mean(&trained_coverage) * 100.0
    );
    Ok(())
}

/// A missing file gets its own message rather than the CSV reader's.
fn existing(path: &Path) -> anyhow::Result<&Path> {
    if !path.is_file() {
        bail!("{}: no such file", path.display());
    }
    Ok(path)
}

fn write_plot(path: &Path, svg: &str) -> anyhow::Result<()> {
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

fn counts(examples: &[Example]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for e in examples {
        *counts.entry(e.label.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Every label must have `shots` training examples; under cross-validation
/// that is in the training part of every fold.
fn check_shots(train: &[Example], shots: usize, folds: Option<usize>) -> anyhow::Result<()> {
    if shots == 0 {
        bail!("--shots must be at least 1");
    }
    let available = |n: usize| match folds {
        // The smallest training part a stratified split leaves.
        Some(k) => n - n.div_ceil(k),
        None => n,
    };
    if let Some((label, n)) = counts(train)
        .into_iter()
        .map(|(label, n)| (label, available(n)))
        .find(|&(_, n)| n < shots)
    {
        let scope = if folds.is_some() {
            " in each cross-validation fold's training part"
        } else {
            ""
        };
        bail!("--shots {shots}: label `{label}` has only {n} training examples{scope}");
    }
    Ok(())
}

fn check_folds(train: &[Example], folds: usize) -> anyhow::Result<()> {
    if let Some((label, n)) = counts(train).into_iter().find(|&(_, n)| n < folds) {
        bail!("--folds {folds}: label `{label}` has only {n} examples, fewer than the folds");
    }
    Ok(())
}

pub(super) fn bar(hidden: bool) -> ProgressBar {
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
    if let Some(t) = m.trained_threshold {
        println!(
            "with each model's threshold chosen on its training data only: coverage {:.1}% \
             at {:.2}% accuracy (mean threshold {:.3})",
            t.coverage * 100.0,
            t.accuracy * 100.0,
            t.threshold
        );
    }
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

fn print_curve(curve: &LearningCurve, json: bool) -> anyhow::Result<()> {
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

fn eval_task(args: &EvalArgs, task: &str) -> anyhow::Result<i32> {
    let (workflow, task) = task
        .split_once('/')
        .ok_or_else(|| anyhow!("--task {task}: expected WORKFLOW/TASK"))?;
    let catalog = super::stack::catalog_or_builtin(args.workflows.as_deref())?;
    let spec = catalog
        .get(workflow)
        .cloned()
        .ok_or_else(|| anyhow!("--task: no workflow `{workflow}`"))?;
    let configured = crate::models::configure(&args.llm.source(), &catalog)?;
    if !args.json {
        for line in &configured.banner {
            eprintln!("{line}");
        }
    }
    super::eval_task::run(super::eval_task::TaskEval {
        workflow: spec,
        task,
        data: existing(args.data.as_deref().expect("clap requires --data"))?,
        tier: args.tier.as_deref(),
        tiers: configured.tiers,
        concurrency: args.concurrency,
        limit: args.limit,
        ocr: args.ocr,
        json: args.json,
    })
}
