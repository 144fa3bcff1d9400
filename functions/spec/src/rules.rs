//! Rules are CEL expressions, compiled once per process and evaluated per run.

use std::sync::{Arc, OnceLock};

use cel::{Context, Env, Program, Value};
use serde::Serialize;

/// What a rule can see. Field names are the variable names in CEL.
#[derive(Debug, Serialize)]
pub struct RuleInput<'a> {
    pub event: &'a serde_json::Value,
    pub ai: &'a serde_json::Value,
    pub context: &'a serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("the run's data could not be given to the rules: {0}")]
    Input(String),
    #[error("rule `{rule}` could not be evaluated: {reason}")]
    Evaluation { rule: String, reason: String },
    #[error("rule `{rule}` yielded {found}, not a bool")]
    NotABool { rule: String, found: String },
}

pub struct CompiledRule {
    pub name: String,
    program: Program,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule")
            .field("name", &self.name)
            .finish()
    }
}

/// The variables a rule may name; anything else is a typo caught at build time.
pub const RULE_VARIABLES: [&str; 3] = ["event", "ai", "context"];

impl CompiledRule {
    pub fn compile(name: &str, source: &str) -> Result<Self, String> {
        let program = Program::compile(source).map_err(|e| e.to_string())?;
        let refs = program.references();
        let bound = macro_variables(source);
        if let Some(unknown) = refs
            .variables()
            .into_iter()
            .find(|v| !RULE_VARIABLES.contains(v) && !bound.iter().any(|b| b == v))
        {
            return Err(format!(
                "unknown variable `{unknown}` (rules may use {})",
                RULE_VARIABLES.join(", ")
            ));
        }
        Ok(Self {
            name: name.to_string(),
            program,
        })
    }

    /// Evaluates the rule against one run's variables.
    pub fn matches(&self, scope: &RuleScope) -> Result<bool, RuleError> {
        match self.program.execute(&scope.context) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(RuleError::NotABool {
                rule: self.name.clone(),
                found: format!("{other:?}"),
            }),
            Err(e) => Err(RuleError::Evaluation {
                rule: self.name.clone(),
                reason: e.to_string(),
            }),
        }
    }
}

/// `sum(list)`: the numbers of a list added as a double (0.0 for an empty
/// list), so a rule can check that line items add up to a total; CEL's
/// standard library has no fold.
fn sum(
    cel::extractors::Arguments(args): cel::extractors::Arguments,
) -> Result<Value, cel::ExecutionError> {
    let [Value::List(items)] = args.as_slice() else {
        return Err(cel::ExecutionError::function_error(
            "sum",
            "expects one list of numbers",
        ));
    };
    items
        .iter()
        .try_fold(0.0, |total, item| match item {
            Value::Int(n) => Ok(total + *n as f64),
            Value::UInt(n) => Ok(total + *n as f64),
            Value::Float(n) => Ok(total + n),
            other => Err(cel::ExecutionError::function_error(
                "sum",
                format!("{other:?} is not a number"),
            )),
        })
        .map(Value::Float)
}

/// Names a comprehension binds (`items.all(i, i.total > 0)` binds `i`):
/// CEL reports them among the expression's variables.
fn macro_variables(source: &str) -> Vec<String> {
    static BOUND: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,",
        )
        .expect("a valid pattern")
    });
    BOUND
        .captures_iter(source)
        .map(|c| c[1].to_string())
        .collect()
}

/// One run's variables, converted to CEL once for all the rules that read
/// them, over a standard library built once per process: a fresh CEL
/// context per rule rebuilt both and cost more than the rules themselves.
pub struct RuleScope {
    context: Context<'static, 'static>,
}

impl RuleScope {
    pub fn new(input: &RuleInput<'_>) -> Result<Self, RuleError> {
        let mut context = stdlib_context();
        for (name, value) in [
            ("event", input.event),
            ("ai", input.ai),
            ("context", input.context),
        ] {
            context
                .add_variable(name, value)
                .map_err(|e| RuleError::Input(format!("{name}: {e}")))?;
        }
        Ok(Self { context })
    }
}

/// A CEL condition over variables other than a run's (`handoff backtest
/// --fail-if` over the backtest's figures): compiled, checked to name only
/// `variables`, and evaluated once.
pub fn evaluate_condition(
    source: &str,
    variables: &[(&str, &serde_json::Value)],
) -> Result<bool, String> {
    let program = Program::compile(source).map_err(|e| e.to_string())?;
    let names: Vec<&str> = variables.iter().map(|(name, _)| *name).collect();
    if let Some(unknown) = program
        .references()
        .variables()
        .into_iter()
        .find(|v| !names.contains(v))
    {
        return Err(format!(
            "unknown variable `{unknown}` (known: {})",
            names.join(", ")
        ));
    }
    let mut context = stdlib_context();
    for (name, value) in variables {
        context
            .add_variable(*name, *value)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    match program.execute(&context) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("yielded {other:?}, not a bool")),
        Err(e) => Err(e.to_string()),
    }
}

/// A context over CEL's standard library (built once per process) and `sum`.
fn stdlib_context() -> Context<'static, 'static> {
    static STDLIB: OnceLock<Arc<Env>> = OnceLock::new();
    let env = STDLIB.get_or_init(|| Arc::new(Env::stdlib())).clone();
    let mut context = Context::with_env(env);
    context
        .add_function("sum", sum)
        .expect("the standard library has no `sum`");
    context
}
