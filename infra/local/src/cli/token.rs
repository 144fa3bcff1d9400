//! `handoff reviewer-token REVIEWER`: a bearer token for the API's feedback
//! and redrive routes, signed with the link secret. Locally the secret comes
//! from the data dir; for a deployed stack, pass its value in
//! `HANDOFF_LINK_SECRET_VALUE` (from `aws secretsmanager get-secret-value`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::Args;
use handoff_core::links;
use handoff_core::ports::Secret;

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The reviewer: an address in the workflow's approval section.
    pub reviewer: String,
    /// Seconds the token stays valid.
    #[arg(long, default_value_t = 3600)]
    pub valid_for: i64,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
    /// The link secret's name (the template's LinkSecretName).
    #[arg(long, default_value = "approval-links")]
    pub secret: String,
}

pub fn reviewer_token(args: TokenArgs) -> anyhow::Result<i32> {
    let value = match std::env::var("HANDOFF_LINK_SECRET_VALUE") {
        Ok(value) if !value.is_empty() => value,
        _ => local_secret(&args)?,
    };
    let expires = chrono::Utc::now().timestamp() + args.valid_for;
    println!(
        "{}",
        links::reviewer_token(&Secret::new(value), &args.reviewer, expires)
    );
    Ok(0)
}

fn local_secret(args: &TokenArgs) -> anyhow::Result<String> {
    let path = args.data_dir.join("secrets.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{} not found: `handoff up` creates it, or set HANDOFF_LINK_SECRET_VALUE",
            path.display()
        )
    })?;
    let mut values: BTreeMap<String, String> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON object of strings", path.display()))?;
    values
        .remove(&args.secret)
        .ok_or_else(|| anyhow!("{} has no secret `{}`", path.display(), args.secret))
}
