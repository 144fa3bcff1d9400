//! A workflow is data: one YAML file per workflow under `workflows/`.
//!
//! This crate turns those files into a validated [`Workflow`] with its CEL
//! rules compiled, and reports every problem with the file, the YAML path and
//! the reason. It has no async and no I/O besides reading the given text, so
//! the `workflows` crate can run it from a build script and fail the build.

mod catalog;
mod error;
mod json_path;
mod load;
mod model;
mod origin;
mod rules;
mod sample;
mod task;
mod validate;
mod validate_tasks;

pub use catalog::{Catalog, Workflow};
pub use error::{SpecError, SpecErrors};
pub use json_path::parse_json_path;
pub use load::parse_workflow;
pub use model::*;
pub use origin::{has_template, literal_origin};
pub use rules::{evaluate_condition, CompiledRule, RuleError, RuleInput, RuleScope};
pub use task::*;
pub use validate::{DOCUMENT_SECRET_SUFFIX, TRIGGER_SECRET_SUFFIX};
