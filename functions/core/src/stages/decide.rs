//! Ordered rules over the AI output and context: the first match decides.

use std::sync::Arc;
use std::time::Instant;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use handoff_spec::{Catalog, Priority, RuleInput, RuleScope, Workflow};

use crate::domain::*;
use crate::observe::autonomy::{self, LabelAutonomy};
use crate::observe::emf::{Metric, MetricDoc};
use crate::observe::review;
use crate::ports::*;
use crate::stages::{audit, duplicate, summarise, StageError};

pub struct Decide {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
}

impl Decide {
    /// Returns the flags the state machine branches on; the decision itself
    /// stays in the run store.
    pub async fn run(&self, input: &RunRef) -> Result<Value, StageError> {
        let t0 = Instant::now();
        let workflow = super::workflow(&self.catalog, &input.workflow)?;
        let event = super::event_of(self.store.as_ref(), &input.run_id).await?;
        let ai_json = self
            .store
            .get_slot(&input.run_id, &Slot::Ai)
            .await?
            .ok_or_else(|| StageError::Invalid("the reason stage has not run".into()))?;
        let ai: AiResult = serde_json::from_value(ai_json.clone())
            .map_err(|e| StageError::Invalid(e.to_string()))?;
        let context = self
            .store
            .get_slot(&input.run_id, &Slot::Context)
            .await?
            .unwrap_or(json!({}));
        let event_json = serde_json::to_value(&event.fields).expect("fields serialise");

        let decision = decide(
            workflow,
            &ai,
            &RuleInput {
                event: &event_json,
                ai: &ai_json,
                context: &context,
            },
        )?;
        let decision = if declares_autonomy(workflow) {
            let proven = review::latest(self.store.as_ref(), &input.workflow)
                .await?
                .map(|r| r.autonomy)
                .unwrap_or_default();
            with_autonomy(decision, workflow, &ai, &proven)
        } else {
            decision
        };
        let decision = self
            .unless_duplicate(decision, workflow, &event, &ai, &input.run_id)
            .await?;
        let audit = sampled_for_audit(&decision, workflow, rand::random::<f64>());
        if audit {
            audit::record(
                self.store.as_ref(),
                self.clock.as_ref(),
                &input.run_id,
                Stage::Decide,
                "audit.sampled",
                json!({ "reason": "the run acts alone; a reviewer labels it blind" }),
            )
            .await?;
        }
        self.store
            .put_slot(
                &input.run_id,
                &Slot::Decision,
                &serde_json::to_value(&decision).expect("decisions serialise"),
            )
            .await?;
        let route = SummaryUpdate {
            route: Some(decision.route.clone()),
            ..SummaryUpdate::default()
        };
        summarise(self.store.as_ref(), &input.run_id, &route).await?;
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            &input.run_id,
            Stage::Decide,
            t0,
            serde_json::to_value(&decision).expect("decisions serialise"),
        )
        .await?;
        let mut result = state_result(&decision, workflow);
        result["audit"] = json!(audit);
        Ok(result)
    }

    /// `decision`, or, when another run already holds the business key
    /// the AI step completed, that decision sent to a person.
    async fn unless_duplicate(
        &self,
        decision: Decision,
        workflow: &Workflow,
        event: &CanonicalEvent,
        ai: &AiResult,
        run: &RunId,
    ) -> Result<Decision, StageError> {
        let store = self.store.as_ref();
        let Some(earlier) = duplicate::earlier_run(store, workflow, event, ai, run).await? else {
            return Ok(decision);
        };
        let names = duplicate::key_fields(workflow).unwrap_or_default();
        audit::record(
            store,
            self.clock.as_ref(),
            run,
            Stage::Decide,
            "dedupe.business_key_taken",
            json!({ "fields": names, "run_id": earlier }),
        )
        .await?;
        self.metrics.emit(
            MetricDoc::workflow(&event.workflow)
                .count(Metric::DedupeHits)
                .property("run_id", earlier.to_string()),
        );
        Ok(duplicate::as_possible_duplicate(decision, names, &earlier))
    }
}

/// What the state machine keeps of a decision (`$.decide.result`): the flag
/// it branches on and how long the approval request may wait. A redrive
/// that resumes at the approval request rebuilds it from the stored decision.
pub fn state_result(decision: &Decision, workflow: &Workflow) -> Value {
    let timeout = workflow
        .spec
        .approval
        .as_ref()
        .map_or(0, |a| a.timeout_seconds);
    json!({
        "needs_approval": decision.needs_approval,
        "approval_timeout_seconds": timeout,
        "route": decision.route,
    })
}

/// The decision for one run: pure, so tests pin rule order directly.
pub fn decide(
    workflow: &Workflow,
    ai: &AiResult,
    input: &RuleInput<'_>,
) -> Result<Decision, StageError> {
    let scope = RuleScope::new(input).map_err(|e| StageError::Invalid(e.to_string()))?;
    for (rule, compiled) in workflow.spec.rules.iter().zip(&workflow.rules) {
        let matched = compiled
            .matches(&scope)
            .map_err(|e| StageError::Invalid(e.to_string()))?;
        if matched {
            let (needs_approval, reason) = match (rule.approval, ai.needs_review) {
                (true, _) => (true, format!("rule `{}` requires approval", rule.name)),
                (false, true) => (
                    true,
                    format!(
                        "the AI step asked for review: {}",
                        ai.review_reasons.join("; ")
                    ),
                ),
                (false, false) => (false, format!("rule `{}` acts without approval", rule.name)),
            };
            return Ok(Decision {
                rule: Some(rule.name.clone()),
                route: rule.route.clone(),
                priority: rule.priority,
                actions: rule.actions.clone(),
                needs_approval,
                reason,
            });
        }
    }
    Ok(Decision {
        rule: None,
        route: "unrouted".into(),
        priority: Priority::Normal,
        actions: Vec::new(),
        needs_approval: true,
        reason: "no rule matched; a person decides".into(),
    })
}

fn declares_autonomy(workflow: &Workflow) -> bool {
    workflow
        .spec
        .reason
        .primary()
        .is_some_and(|(_, task)| task.autonomy.is_some())
}

/// Earned autonomy over a rule's decision: where the primary classify task
/// declares `autonomy`, a run the rules would let act alone still goes to
/// a person unless its label's error rate is proven low (`proven`, from
/// the latest accuracy review) and its confidence reaches the proven
/// threshold. It never lifts an approval the rules or the AI step asked for.
pub fn with_autonomy(
    mut decision: Decision,
    workflow: &Workflow,
    ai: &AiResult,
    proven: &BTreeMap<String, LabelAutonomy>,
) -> Decision {
    let Some((task, classify)) = workflow.spec.reason.primary() else {
        return decision;
    };
    let Some(spec) = &classify.autonomy else {
        return decision;
    };
    if decision.needs_approval {
        return decision;
    }
    let Some(answer) = ai.classification(&task.name) else {
        return decision;
    };
    if let Some(why) = autonomy::withheld(
        &answer.label,
        answer.confidence,
        spec,
        proven.get(&answer.label),
    ) {
        decision.needs_approval = true;
        decision.reason = format!("{why}: a person approves until autonomy is earned");
    }
    decision
}

/// Whether a run that acts alone is also sent to a blind audit: a random
/// `audit_rate` share of them (`draw` uniform in [0, 1)), where the primary
/// classify task declares autonomy.
pub fn sampled_for_audit(decision: &Decision, workflow: &Workflow, draw: f64) -> bool {
    let rate = workflow
        .spec
        .reason
        .primary()
        .and_then(|(_, task)| task.autonomy)
        .map_or(0.0, |a| a.audit_rate);
    !decision.needs_approval && draw < rate
}
