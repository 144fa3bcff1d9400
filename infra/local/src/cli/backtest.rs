//! `handoff backtest`: replays stored runs through a candidate spec with no
//! side effects and reports what would change. Exit code 1 when `--fail-if`
//! holds, so a spec change can be gated in CI.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use handoff_aws::dynamo::DynamoStore;
use handoff_core::backtest::{page, Backtest, Figures, Selection};
use handoff_core::model::{load_encoder, Tiers};
use handoff_core::ports::RunStore;
use handoff_spec::Workflow;
use indicatif::{ProgressBar, ProgressStyle};

use super::stack::{open_store, runtime, LlmArgs};

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The candidate workflow spec (YAML).
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// Only runs of the last `30d`, `12h`, `2w`, …
    #[arg(long, value_name = "AGE", conflicts_with = "runs")]
    pub since: Option<String>,
    /// Only the newest N runs.
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,
    /// The workflow whose runs are replayed (default: the candidate's name).
    #[arg(long)]
    pub workflow: Option<String>,
    /// Ask changed tasks' LLM tiers again (after an estimate and a prompt);
    /// without it they keep their recorded answers.
    #[arg(long)]
    pub with_llm: bool,
    /// With --with-llm: do not ask before spending.
    #[arg(long, requires = "with_llm")]
    pub yes: bool,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the report page here.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// A CEL condition over the figures; exit 1 when it holds, e.g.
    /// 'accuracy < 0.97 || review_load > 1.2 * before.review_load'.
    #[arg(long, value_name = "EXPR")]
    pub fail_if: Option<String>,
    /// Minutes a reviewer spends per approval, for the reviewer hours.
    #[arg(long, default_value_t = 4.0)]
    pub review_minutes: f64,
    /// The workflow specs the runs ran under (default: the built-in ones).
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    #[arg(long, default_value = ".handoff")]
    pub data_dir: PathBuf,
    /// Read a deployment's DynamoDB table (the stack's `TableName` output)
    /// instead of the data dir, with the caller's AWS credentials; the
    /// backtest only reads (GetItem, Query, BatchGetItem).
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// Exit codes: 0, 1 when `--fail-if` holds, 2 when the backtest could not
/// run (so a gate never mistakes a broken backtest for a failed one).
pub fn backtest(args: BacktestArgs) -> anyhow::Result<i32> {
    match gate(args) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("handoff backtest: {e:#}");
            Ok(2)
        }
    }
}

fn gate(args: BacktestArgs) -> anyhow::Result<i32> {
    let candidate = load_candidate(&args.spec)?;
    let workflow = args
        .workflow
        .clone()
        .unwrap_or_else(|| candidate.name().to_string());
    if candidate.name() != workflow {
        bail!(
            "{} is the spec of `{}`, not of `{workflow}`",
            args.spec.display(),
            candidate.name()
        );
    }
    let catalog = super::stack::catalog_or_builtin(args.workflows.as_deref())?;
    let baseline = catalog
        .get(&workflow)
        .ok_or_else(|| anyhow!("no workflow `{workflow}` among the specs the runs ran under"))?;
    if args.with_llm && !args.llm.given() {
        bail!("--with-llm needs the tiers: --llm URL or --models FILE");
    }
    let since = super::stack::since_age(args.since.as_deref())?;
    load_encoder();
    let tiers = if args.with_llm {
        crate::models::configure(&args.llm.source(), &catalog)?.tiers
    } else {
        Tiers::embedded_only()
    };
    let runtime = runtime()?;
    let store: Box<dyn RunStore> = match &args.table {
        Some(table) => {
            let config = runtime.block_on(handoff_aws::lambda::aws_config());
            Box::new(DynamoStore::from_config(&config, table.clone()))
        }
        None => Box::new(open_store(&args.data_dir)?),
    };
    let bt = Backtest {
        store: store.as_ref(),
        tiers: &tiers,
        baseline,
        candidate: &candidate,
    };
    let figures = runtime.block_on(async {
        let runs = bt
            .runs(&Selection {
                since,
                runs: args.runs,
            })
            .await?;
        if args.with_llm && !confirm_spend(&bt, &runs, args.yes).await? {
            bail!("not run: the LLM tiers were not to be asked");
        }
        let verdicts = bt.verdicts().await?;
        let proven = bt.proven().await?;
        let bar = progress(runs.len() as u64, args.json);
        let mut replays = Vec::with_capacity(runs.len());
        let mut skipped = 0;
        for run in &runs {
            match bt
                .replay(run, &verdicts, &proven)
                .await
                .map_err(|e| anyhow!("{e}"))?
            {
                Some(r) => replays.push(r),
                None => skipped += 1,
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        anyhow::Ok(Figures::new(
            &workflow,
            &replays,
            skipped,
            args.review_minutes,
        ))
    })?;

    if let Some(path) = &args.report {
        std::fs::write(path, page(&figures, &args.spec.display().to_string()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print!("{}", text(&figures));
    }
    let Some(condition) = &args.fail_if else {
        return Ok(0);
    };
    let failed = figures
        .fails(condition)
        .map_err(|e| anyhow!("--fail-if: {e}"))?;
    if failed {
        eprintln!("--fail-if holds: {condition}");
    }
    Ok(i32::from(failed))
}

/// The candidate, validated as its workflow's spec: a candidate sits
/// beside the deployed spec under another file name, so the rule that a
/// spec's name matches its file's is checked against the name it declares.
fn load_candidate(path: &Path) -> anyhow::Result<Workflow> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    let name = handoff_spec::parse_workflow(&file, &text)
        .map_err(|e| anyhow!("{e}"))?
        .name;
    Workflow::from_yaml(&format!("{name}.yaml"), &text)
        .map_err(|e| anyhow!("{} (the candidate for {name}): {e}", path.display()))
}

/// Prints what asking the LLM tiers again is estimated to cost and asks
/// whether to go on (unless `yes`).
async fn confirm_spend(
    bt: &Backtest<'_>,
    runs: &[handoff_core::domain::Run],
    yes: bool,
) -> anyhow::Result<bool> {
    let tasks = bt.changed_llm_tasks();
    if tasks.is_empty() {
        eprintln!("no changed task asks an LLM tier: nothing is spent");
        return Ok(true);
    }
    let (tokens, cost) = bt.llm_estimate(runs, &tasks).await?;
    eprintln!(
        "asking {} again on {} runs: about {tokens} tokens, {cost:.4} at the recorded prices",
        tasks.join(", "),
        runs.len()
    );
    if yes {
        return Ok(true);
    }
    eprint!("go on? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn progress(len: u64, quiet: bool) -> ProgressBar {
    if quiet || len < 50 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("replaying {bar:40} {pos}/{len} runs, {eta} left")
            .expect("a valid template"),
    );
    bar
}

fn text(f: &Figures) -> String {
    let pct = |x: Option<f64>| x.map_or_else(|| "—".into(), |x| format!("{:.1}%", 100.0 * x));
    let mut out = format!(
        "{}: {} runs replayed ({} skipped: no decision), {} with a reviewer's verdict\n\
         {:<22} {:>10} {:>10}\n",
        f.workflow, f.runs, f.skipped, f.verdicts, "", "before", "after"
    );
    let mut row = |name: &str, b: String, a: String| {
        out.push_str(&format!("{name:<22} {b:>10} {a:>10}\n"));
    };
    row(
        "acts alone",
        pct(Some(f.before.auto_resolve_rate)),
        pct(Some(f.after.auto_resolve_rate)),
    );
    row(
        "review load (runs)",
        f.before.review_load.to_string(),
        f.after.review_load.to_string(),
    );
    row(
        "accuracy vs verdicts",
        pct(f.before.accuracy),
        pct(f.after.accuracy),
    );
    row(
        "LLM cost",
        format!("{:.4}", f.before.llm_cost),
        format!("{:.4}", f.after.llm_cost),
    );
    row(
        "reviewer hours",
        format!("{:.1}", f.before.reviewer_hours),
        format!("{:.1}", f.after.reviewer_hours),
    );
    out.push_str(&format!(
        "\n{:<22} {:>9} {:>11} {:>15}\n",
        "label", "runs", "acts alone", "accuracy"
    ));
    for l in &f.labels {
        let acc = |c: usize, v: usize| pct((v > 0).then(|| c as f64 / v as f64));
        let pair = |b: String, a: String| format!("{b}→{a}");
        out.push_str(&format!(
            "{:<22} {:>9} {:>11} {:>15}\n",
            l.label,
            pair(l.runs[0].to_string(), l.runs[1].to_string()),
            pair(
                l.auto_resolved[0].to_string(),
                l.auto_resolved[1].to_string()
            ),
            pair(
                acc(l.correct[0], l.verdicts[0]),
                acc(l.correct[1], l.verdicts[1])
            ),
        ));
    }
    for (task, n) in &f.kept {
        out.push_str(&format!(
            "\nnote: task `{task}` changed but only LLM tiers answer it: {n} runs kept the recorded answer (--with-llm asks again)\n"
        ));
    }
    out.push_str(&format!(
        "\n{} runs whose decision changed\n",
        f.changed.len()
    ));
    for c in &f.changed {
        out.push_str(&format!("  {}  {}\n", c.run_id, c.what.join(", ")));
    }
    out
}
