//! `handoff redrive`: a failed run again, from the step that failed.

use std::time::{Duration, Instant};

use clap::Args;
use handoff_core::domain::{RunId, RunStatus};
use handoff_core::ports::Runs;

use super::stack::{init_logs, runtime, serve, StackArgs};

#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The failed run.
    pub run_id: String,
    #[command(flatten)]
    pub stack: StackArgs,
}

pub fn redrive(args: RedriveArgs) -> anyhow::Result<i32> {
    init_logs();
    let options = args.stack.options(true)?;
    runtime()?.block_on(async move {
        let (stack, _, _server, _) = serve(options, 0).await?;
        let run_id = RunId(args.run_id.clone());
        let redriven = crate::redrive::redrive(&stack, &run_id).await?;
        println!(
            "started execution {} from {}",
            redriven.execution,
            redriven.from.as_str()
        );
        let started = Instant::now();
        let status = loop {
            let status = stack
                .store
                .get_run(&run_id)
                .await?
                .map_or(RunStatus::Failed, |r| r.status);
            if status.is_final()
                || status == RunStatus::AwaitingApproval
                || started.elapsed() > Duration::from_secs(60)
            {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        println!("{run_id}: {}", status.as_str());
        Ok(if status == RunStatus::Failed { 1 } else { 0 })
    })
}
