//! `handoff bench`: intake and end-to-end throughput on loopback.

use std::path::PathBuf;

use crate::template::Template;
use clap::Args;

use super::stack::{init_logs, runtime};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds of load per intake target.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Runs for the end-to-end measurement.
    #[arg(long, default_value_t = 8000)]
    pub runs: usize,
    #[arg(long)]
    pub template: Option<PathBuf>,
}

pub fn bench(args: BenchArgs) -> anyhow::Result<i32> {
    init_logs();
    let template = match &args.template {
        Some(path) => Template::load(path)?,
        None => Template::discover(&std::env::current_dir()?)?,
    };
    if cfg!(debug_assertions) {
        println!("note: a debug build; `cargo run --profile local -p handoff-local -- bench` measures what users get");
    }
    runtime()?.block_on(crate::bench::run(crate::bench::BenchOptions {
        seconds: args.seconds,
        connections: args.connections,
        runs: args.runs,
        template,
    }))?;
    Ok(0)
}
