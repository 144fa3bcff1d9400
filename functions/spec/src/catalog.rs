use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{SpecError, SpecErrors};
use crate::load::parse_workflow;
use crate::model::{ActionSpec, WorkflowSpec};
use crate::rules::CompiledRule;
use crate::validate::validate;

/// A validated spec with its rules compiled, ready for the stages.
#[derive(Debug)]
pub struct Workflow {
    pub spec: WorkflowSpec,
    pub rules: Vec<CompiledRule>,
}

impl Workflow {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.spec.actions.iter().find(|a| a.name == name)
    }

    /// Parses and validates one file; `file` names it in every error.
    pub fn from_yaml(file: &str, text: &str) -> Result<Self, SpecErrors> {
        let spec = parse_workflow(file, text)?;
        let stem = file_stem(file);
        let rules = validate(stem, &spec).map_err(|p| SpecErrors(p.into_errors(file)))?;
        Ok(Self { spec, rules })
    }
}

fn file_stem(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.strip_suffix(".yaml")
        .or_else(|| base.strip_suffix(".yml"))
        .unwrap_or(base)
}

/// Every workflow the deployment serves, by name.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    workflows: BTreeMap<String, Arc<Workflow>>,
}

impl Catalog {
    /// Loads `(file name, YAML text)` pairs, reporting every error of every file.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SpecErrors> {
        let mut workflows = BTreeMap::new();
        let mut errors: Vec<SpecError> = Vec::new();
        for (file, text) in files {
            match Workflow::from_yaml(file, text) {
                Ok(w) => {
                    workflows.insert(w.spec.name.clone(), Arc::new(w));
                }
                Err(SpecErrors(mut e)) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(Self { workflows })
        } else {
            Err(SpecErrors(errors))
        }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Workflow>> {
        self.workflows.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.workflows.keys().map(String::as_str)
    }

    pub fn insert(&mut self, workflow: Workflow) {
        self.workflows
            .insert(workflow.spec.name.clone(), Arc::new(workflow));
    }
}
