//! A harness of one workflow that a test writes itself.

use std::sync::Arc;

use handoff_spec::{Catalog, Workflow};

use super::Harness;

impl Harness {
    /// A harness whose catalog holds only the workflow `name`: a signed
    /// webhook (secret `{name}/webhook`) maps the trigger's `fields`, it
    /// tells refunds from other messages, asks `a@example.com` when a rule
    /// wants approval, and has the test's `sections` (YAML: its rules,
    /// actions and any other top-level keys).
    pub fn with_workflow(name: &str, fields: &str, sections: &str) -> Harness {
        let yaml = format!(
            r#"
name: {name}
version: 1
trigger:
  signature: {{ scheme: github, secret: {name}/webhook }}
  fields: {fields}
reason:
  - name: intent
    kind: classify
    labels:
      - {{ name: refund, description: Money back, examples: [please refund me] }}
      - {{ name: other, description: Anything else, examples: [hello there] }}
approval: {{ reviewers: [a@example.com], timeout_seconds: 60, on_timeout: reject }}
{sections}
"#
        );
        let workflow = Workflow::from_yaml(&format!("workflows/{name}.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let mut catalog = Catalog::default();
        catalog.insert(workflow);
        let mut h = Harness::new();
        h.catalog = Arc::new(catalog);
        h
    }
}
