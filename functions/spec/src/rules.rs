//! Rules are CEL expressions, compiled once per process and evaluated per run.

use cel::{Context, Program, Value};
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
        if let Some(unknown) = refs
            .variables()
            .into_iter()
            .find(|v| !RULE_VARIABLES.contains(v))
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

    pub fn matches(&self, input: &RuleInput<'_>) -> Result<bool, RuleError> {
        let eval_err = |reason: String| RuleError::Evaluation {
            rule: self.name.clone(),
            reason,
        };
        let mut ctx = Context::default();
        ctx.add_variable("event", input.event)
            .map_err(|e| eval_err(e.to_string()))?;
        ctx.add_variable("ai", input.ai)
            .map_err(|e| eval_err(e.to_string()))?;
        ctx.add_variable("context", input.context)
            .map_err(|e| eval_err(e.to_string()))?;
        match self.program.execute(&ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(RuleError::NotABool {
                rule: self.name.clone(),
                found: format!("{other:?}"),
            }),
            Err(e) => Err(eval_err(e.to_string())),
        }
    }
}
