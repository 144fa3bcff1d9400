//! `handoff mail WORKFLOW message.eml`: one e-mail to its run's end, POSTed
//! as `message/rfc822` to the workflow's webhook route the way a mail relay
//! hands one over (in AWS, SES receiving does).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::run::{run_to_end, Inbound, RunOptions};

#[derive(Debug, Args)]
pub struct MailArgs {
    /// The workflow whose inbox the message arrives at.
    pub workflow: String,
    /// A raw RFC 5322 message (`.eml`), attachments and all.
    pub message: PathBuf,
    #[command(flatten)]
    pub run: RunOptions,
}

pub fn mail(args: MailArgs) -> anyhow::Result<i32> {
    let message = std::fs::read(&args.message)
        .with_context(|| format!("reading {}", args.message.display()))?;
    run_to_end(&args.run, &args.workflow, Inbound::Mail(message))
}
