//! `handoff train`: retrains the classifiers on the data dir's corrections
//! now, as `handoff up` does every few seconds and the review function on
//! its schedule in AWS.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;
use handoff_core::model::{load_encoder, EmbeddedModel};
use handoff_core::ports::SystemClock;
use handoff_core::stages::train::Train;

use super::stack::open_store;

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
    /// The workflow specs `handoff up` was started with (default: the built-in ones).
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn train(args: TrainArgs) -> anyhow::Result<i32> {
    let store = Arc::new(open_store(&args.data_dir)?);
    let catalog = super::stack::catalog_or_builtin(args.workflows.as_deref())?;
    load_encoder();
    let train = Train {
        catalog,
        store,
        model: Arc::new(EmbeddedModel::new()),
        clock: Arc::new(SystemClock),
    };
    let trained = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(train.run())
        .map_err(|e| anyhow!("{e}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&trained)?);
        return Ok(0);
    }
    for t in &trained {
        println!(
            "{}/{}: v{} on {} examples ({} corrections){}",
            t.workflow,
            t.task,
            t.version,
            t.examples,
            t.corrections,
            if t.new { ", new" } else { ", unchanged" }
        );
    }
    Ok(0)
}
