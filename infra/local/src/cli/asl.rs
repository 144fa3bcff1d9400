use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use handoff_states::{
    conformance, driver, Execution, ExecutionInfo, StateMachine, Status, SystemClock,
};
use serde_json::Value;

use crate::cli::asl_tasks::EchoTasks;

#[derive(Debug, Subcommand)]
pub enum AslCommand {
    /// Check a definition for problems, each reported with its state and field.
    Validate { file: PathBuf },
    /// Run a definition to completion; Task states echo their input.
    Run {
        #[arg(long)]
        definition: PathBuf,
        #[arg(long, default_value = "{}")]
        input: String,
    },
    /// Run a JSONL file of conformance cases, printing one result line per case.
    Conformance { cases: PathBuf },
}

pub fn run(cmd: AslCommand) -> anyhow::Result<i32> {
    match cmd {
        AslCommand::Validate { file } => validate(&file),
        AslCommand::Run { definition, input } => run_definition(&definition, &input),
        AslCommand::Conformance { cases } => run_conformance(&cases),
    }
}

fn read_definition(file: &PathBuf) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

fn validate(file: &PathBuf) -> anyhow::Result<i32> {
    let definition = read_definition(file)?;
    let problems = handoff_states::validate::validate(&definition);
    if problems.is_empty() {
        println!("{}: valid", file.display());
        return Ok(0);
    }
    for p in &problems {
        println!("{}: {p}", file.display());
    }
    Ok(1)
}

fn run_definition(file: &PathBuf, input: &str) -> anyhow::Result<i32> {
    let machine = StateMachine::from_value(read_definition(file)?)?;
    let input: Value = serde_json::from_str(input).context("--input is not JSON")?;
    let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or("local");
    let info = ExecutionInfo::local(name, &uuid_like(), Utc::now());
    let mut execution = Execution::start(machine, input, info);
    driver::run(&mut execution, &mut EchoTasks, &mut SystemClock);
    match execution.status() {
        Status::Succeeded(output) => {
            println!("{}", serde_json::to_string_pretty(output)?);
            Ok(0)
        }
        Status::Failed(f) => {
            println!("FAILED");
            println!("error: {}", f.error.as_deref().unwrap_or("null"));
            println!("cause: {}", f.cause.as_deref().unwrap_or("null"));
            Ok(1)
        }
        Status::Running => {
            println!("the execution is waiting for a task token callback");
            Ok(2)
        }
    }
}

fn uuid_like() -> String {
    format!("run-{}", Utc::now().timestamp_millis())
}

fn run_conformance(cases: &PathBuf) -> anyhow::Result<i32> {
    let file =
        std::fs::File::open(cases).with_context(|| format!("opening {}", cases.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let case: Value = serde_json::from_str(&line).context("a case line is not JSON")?;
        writeln!(out, "{}", conformance::run_case(&case))?;
    }
    Ok(0)
}
