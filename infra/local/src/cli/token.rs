//! `handoff token REVIEWER`: a bearer token for the API's read, feedback
//! and redrive routes (and the sign-in page), signed with the token key,
//! never the link secret. Locally the key comes from the data dir; for a
//! deployed stack, pass its value in `HANDOFF_TOKEN_KEY` (from
//! `aws secretsmanager get-secret-value`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::access;
use anyhow::{anyhow, bail, Context};
use clap::Args;
use handoff_core::ports::Secret;
use handoff_core::tokens::{self, Scope};

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The reviewer: an address in the workflow's approval section.
    /// With --operator, defaults to the local operator.
    #[arg(required_unless_present = "operator")]
    pub reviewer: Option<String>,
    /// What the token allows: read, feedback, redrive, all_workflows
    /// (repeat or comma-separate). Default: read, feedback, redrive.
    #[arg(long = "scope", value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Every scope, every workflow: for operators and local tools.
    #[arg(long)]
    pub operator: bool,
    /// Seconds the token stays valid (at most 30 days).
    #[arg(long, default_value_t = 3600)]
    pub valid_for: i64,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
    /// The token key's name (the template's TokenSecretName).
    #[arg(long, default_value = access::TOKEN_SECRET)]
    pub secret: String,
}

pub fn token(args: TokenArgs) -> anyhow::Result<i32> {
    let scopes: Vec<Scope> = if args.operator {
        Scope::ALL.to_vec()
    } else if args.scopes.is_empty() {
        vec![Scope::Read, Scope::Feedback, Scope::Redrive]
    } else {
        args.scopes
            .iter()
            .map(|s| {
                Scope::parse(s.trim()).ok_or_else(|| {
                    let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                    anyhow!("unknown scope `{s}`; one of {}", known.join(", "))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let reviewer = match (&args.reviewer, args.operator) {
        (Some(r), _) => r.clone(),
        (None, true) => access::OPERATOR.to_string(),
        (None, false) => bail!("name the reviewer"),
    };
    let key = match std::env::var("HANDOFF_TOKEN_KEY") {
        Ok(value) if !value.is_empty() => value,
        _ => local_key(&args)?,
    };
    let key = Secret::new(key)
        .signing_key(&args.secret)
        .map_err(|e| anyhow!("{e}"))?;
    let (token, claims) =
        tokens::issue(&key, &reviewer, &scopes, chrono::Utc::now(), args.valid_for)
            .map_err(|e| anyhow!("{e}"))?;
    println!("{token}");
    eprintln!(
        "token id {} (POST /tokens/revoke {{\"id\": \"{}\"}} withdraws it)",
        claims.jti, claims.jti
    );
    Ok(0)
}

fn local_key(args: &TokenArgs) -> anyhow::Result<String> {
    let path = args.data_dir.join("secrets.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{} not found: `handoff up` creates it, or set HANDOFF_TOKEN_KEY",
            path.display()
        )
    })?;
    let mut values: BTreeMap<String, String> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON object of strings", path.display()))?;
    values
        .remove(&args.secret)
        .ok_or_else(|| anyhow!("{} has no secret `{}`", path.display(), args.secret))
}
