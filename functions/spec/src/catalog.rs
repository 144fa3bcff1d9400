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
        let mut files_of = BTreeMap::new();
        for (file, text) in files {
            match Workflow::from_yaml(file, text) {
                Ok(w) => {
                    files_of.insert(w.spec.name.clone(), file.to_string());
                    workflows.insert(w.spec.name.clone(), Arc::new(w));
                }
                Err(SpecErrors(mut e)) => errors.append(&mut e),
            }
        }
        // An address starts one workflow: SES hands over the message, not
        // a choice.
        let mut inboxes: BTreeMap<String, &str> = BTreeMap::new();
        for (name, w) in &workflows {
            for address in w.spec.trigger.email.iter().flat_map(|e| &e.recipients) {
                if let Some(first) = inboxes.insert(address.to_ascii_lowercase(), name) {
                    errors.push(SpecError {
                        file: files_of[name].clone(),
                        path: "trigger.email.recipients".into(),
                        reason: format!("`{address}` is already `{first}`'s inbox"),
                    });
                }
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

    /// The workflow whose inbox `address` is (case-insensitive).
    pub fn for_recipient(&self, address: &str) -> Option<&Arc<Workflow>> {
        self.workflows.values().find(|w| {
            w.spec
                .trigger
                .email
                .iter()
                .flat_map(|e| &e.recipients)
                .any(|r| r.eq_ignore_ascii_case(address))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.workflows.keys().map(String::as_str)
    }

    pub fn insert(&mut self, workflow: Workflow) {
        self.workflows
            .insert(workflow.spec.name.clone(), Arc::new(workflow));
    }
}
