//! Business-key dedupe after the AI step. An e-mailed invoice names its
//! number only in its text or attachment, so ingest cannot key it; once an
//! extract task has read the number, the decide stage claims the key
//! ingest could not, and a run whose key an earlier run holds goes to a
//! person instead of being paid twice.

use handoff_spec::Workflow;
use tracing::info;

use crate::domain::*;
use crate::ports::{Runs, StoreError};

/// The run that already holds this run's business key, built from its
/// event and the extract tasks' results; `None` when the key is this
/// run's (claimed now, or by an earlier try of this stage), when ingest
/// keyed the event already, or when a key field is still missing.
pub async fn earlier_run(
    store: &dyn Runs,
    workflow: &Workflow,
    event: &CanonicalEvent,
    ai: &AiResult,
    run: &RunId,
) -> Result<Option<RunId>, StoreError> {
    let Some(names) = key_fields(workflow) else {
        return Ok(None);
    };
    if business_key(&event.fields, names).is_some() {
        return Ok(None);
    }
    let extracted = ai.extractions(&workflow.spec.reason);
    let Some(key) = business_key_after_extraction(&event.fields, names, &extracted) else {
        info!(
            workflow = %event.workflow,
            "business key fields missing after extraction too; not deduplicated by key"
        );
        return Ok(None);
    };
    let holder = store.claim_business_key(&event.workflow, &key, run).await?;
    Ok((&holder != run).then_some(holder))
}

/// The fields the workflow's business key is made of, if it declares one.
pub fn key_fields(workflow: &Workflow) -> Option<&[String]> {
    workflow
        .spec
        .trigger
        .dedupe
        .as_ref()
        .map(|d| d.business_key.as_slice())
}

/// A decision for a possible duplicate of `earlier`: a person decides,
/// whatever the rules said, on the route they chose. An approval the rules
/// already asked for keeps its reason, with this one after it.
pub fn as_possible_duplicate(
    mut decision: Decision,
    names: &[String],
    earlier: &RunId,
) -> Decision {
    let verb = if names.len() == 1 { "matches" } else { "match" };
    let why = format!("possible duplicate: {} {verb} run {earlier}", listed(names));
    decision.reason = if decision.needs_approval {
        format!("{}; {why}", decision.reason)
    } else {
        why
    };
    decision.needs_approval = true;
    decision
}

/// `a`, `a and b`, `a, b and c`.
fn listed(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acting_alone() -> Decision {
        Decision {
            rule: Some("matched".into()),
            route: "auto-pay".into(),
            priority: Priority::Normal,
            actions: vec!["schedule_payment".into()],
            needs_approval: false,
            reason: "rule `matched` acts without approval".into(),
        }
    }

    #[test]
    fn a_possible_duplicate_is_never_paid_without_a_person() {
        let names = ["invoice_id".to_string(), "supplier".to_string()];
        let earlier = RunId("run-1".into());

        let d = as_possible_duplicate(acting_alone(), &names, &earlier);

        assert!(d.needs_approval);
        assert_eq!(d.route, "auto-pay");
        assert_eq!(d.actions, ["schedule_payment"]);
        assert_eq!(
            d.reason,
            "possible duplicate: invoice_id and supplier match run run-1"
        );
    }

    #[test]
    fn an_approval_the_rules_asked_for_keeps_its_reason() {
        let asked = Decision {
            needs_approval: true,
            reason: "rule `over-limit` requires approval".into(),
            ..acting_alone()
        };

        let d = as_possible_duplicate(asked, &["invoice_id".to_string()], &RunId("run-1".into()));

        assert_eq!(
            d.reason,
            "rule `over-limit` requires approval; possible duplicate: invoice_id matches run run-1"
        );
    }

    #[test]
    fn names_read_as_a_list() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(listed(&names(&["a", "b", "c"])), "a, b and c");
    }
}
