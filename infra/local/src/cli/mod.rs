mod asl;
mod asl_tasks;
mod backtest;
mod bench;
mod dataset;
mod demo;
mod eval;
mod eval_task;
mod mail;
mod redrive;
mod run;
mod runs;
mod secrets;
mod show;
mod stack;
mod stats;
mod token;
mod train;
mod up;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "handoff", about = "Run handoff workflows locally")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the template's routes and state machine on 127.0.0.1.
    Up(up::UpArgs),
    /// Run one event to completion and print its timeline.
    Run(run::RunArgs),
    /// Run one e-mail (`.eml`) to completion, as the workflow's inbox receives it.
    Mail(mail::MailArgs),
    /// List runs.
    Runs(runs::RunsArgs),
    /// Run a failed run again from the step that failed.
    Redrive(redrive::RedriveArgs),
    /// Show one run's timeline.
    Show(show::ShowArgs),
    /// Play the events/ samples of every workflow through a running stack.
    Demo(demo::DemoArgs),
    /// Print the local secrets (webhook, link and outbound signing keys).
    Secrets(secrets::SecretsArgs),
    /// A reviewer's bearer token for the API: reads, feedback, redrive.
    #[command(alias = "reviewer-token")]
    Token(token::TokenArgs),
    /// Intake and end-to-end throughput on loopback, beside a bare axum server.
    Bench(bench::BenchArgs),
    /// Outcome figures: runs, reviews, approval latency, overrides, accuracy by label.
    Stats(stats::StatsArgs),
    /// Compare AI labels with reviewers' labels per label and store the review.
    ReviewAccuracy(stats::ReviewArgs),
    /// Retrain the embedded classifiers on the corrections in the data dir now.
    Train(train::TrainArgs),
    /// Measure the embedded classifier on labelled CSVs: accuracy, coverage, learning curve.
    Eval(eval::EvalArgs),
    /// Replay stored runs through a candidate spec and report what would change.
    Backtest(backtest::BacktestArgs),
    /// Datasets from production: the runs reviewers judged.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    /// Amazon States Language tools: validate, run, conformance.
    #[command(subcommand)]
    Asl(asl::AslCommand),
}

/// The `handoff` command: parses the process's arguments, runs the
/// subcommand and exits with its code.
pub fn main() -> anyhow::Result<()> {
    let code = run(Cli::parse())?;
    std::process::exit(code);
}

/// Runs the chosen subcommand and returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Up(args) => up::up(args),
        Command::Run(args) => run::run(args),
        Command::Mail(args) => mail::mail(args),
        Command::Runs(args) => runs::runs(args),
        Command::Redrive(args) => redrive::redrive(args),
        Command::Show(args) => show::show(args),
        Command::Demo(args) => demo::demo(args),
        Command::Secrets(args) => secrets::secrets(args),
        Command::Token(args) => token::token(args),
        Command::Bench(args) => bench::bench(args),
        Command::Stats(args) => stats::stats(args),
        Command::ReviewAccuracy(args) => stats::review_accuracy(args),
        Command::Train(args) => train::train(args),
        Command::Eval(args) => eval::eval(args),
        Command::Backtest(args) => backtest::backtest(args),
        Command::Dataset(cmd) => dataset::run(cmd),
        Command::Asl(cmd) => asl::run(cmd),
    }
}
