//! A backtest's figures: what changed, and the workload, accuracy and cost
//! before and after; and the `--fail-if` gate over them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::{Outcome, RunReplay};
use crate::domain::RunId;

/// One side of the comparison, over the replayed runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Side {
    /// Runs that act without a person.
    pub auto_resolved: usize,
    /// Runs a person approves.
    pub review_load: usize,
    pub auto_resolve_rate: f64,
    /// Share of the runs with a verdict whose label the reviewer kept;
    /// `None` without verdicts.
    pub accuracy: Option<f64>,
    pub correct: usize,
    /// What the billed calls cost, in the spec's currency.
    pub llm_cost: f64,
    pub llm_tokens: u64,
    /// The review load at the given minutes per review.
    pub reviewer_hours: f64,
}

/// A run whose decision changed, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub run_id: RunId,
    /// Of `label`, `route`, `priority`, `approval`, `actions`.
    pub what: Vec<&'static str>,
    pub before: Outcome,
    pub after: Outcome,
}

/// Per label (the AI's, on each side): runs, how many acted alone, and how
/// many of those with a verdict were right.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabelRow {
    pub label: String,
    pub runs: [usize; 2],
    pub auto_resolved: [usize; 2],
    pub verdicts: [usize; 2],
    pub correct: [usize; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub workflow: String,
    /// Runs replayed, and those skipped because they never reached a decision.
    pub runs: usize,
    pub skipped: usize,
    /// Runs with a reviewer's verdict.
    pub verdicts: usize,
    pub before: Side,
    pub after: Side,
    pub changed: Vec<Change>,
    pub labels: Vec<LabelRow>,
    /// Per task, on how many runs it was asked again, and on how many it
    /// kept its recorded answer for want of billed tiers.
    pub asked: BTreeMap<String, usize>,
    pub kept: BTreeMap<String, usize>,
}

impl Figures {
    pub fn new(
        workflow: &str,
        replays: &[RunReplay],
        skipped: usize,
        minutes_per_review: f64,
    ) -> Self {
        let side = |pick: fn(&RunReplay) -> &Outcome| {
            let mut s = Side::default();
            let mut judged = 0;
            for r in replays {
                let o = pick(r);
                if o.decision.needs_approval {
                    s.review_load += 1;
                } else {
                    s.auto_resolved += 1;
                }
                if let Some(verdict) = &r.verdict {
                    judged += 1;
                    s.correct += usize::from(o.label.as_ref() == Some(verdict));
                }
                s.llm_cost += o.cost;
                s.llm_tokens += o.tokens;
            }
            s.auto_resolve_rate = ratio(s.auto_resolved, replays.len()).unwrap_or(0.0);
            s.accuracy = ratio(s.correct, judged);
            s.reviewer_hours = s.review_load as f64 * minutes_per_review / 60.0;
            s
        };
        let mut asked = BTreeMap::new();
        let mut kept = BTreeMap::new();
        for r in replays {
            for task in &r.asked {
                *asked.entry(task.clone()).or_default() += 1;
            }
            for task in &r.kept {
                *kept.entry(task.clone()).or_default() += 1;
            }
        }
        Self {
            workflow: workflow.to_string(),
            runs: replays.len(),
            skipped,
            verdicts: replays.iter().filter(|r| r.verdict.is_some()).count(),
            before: side(|r| &r.before),
            after: side(|r| &r.after),
            changed: replays.iter().filter_map(change).collect(),
            labels: label_rows(replays),
            asked,
            kept,
        }
    }

    /// The figures a `--fail-if` condition names: the candidate's at the top
    /// level, the baseline's under `before`, every number a double.
    pub fn gate_variables(&self) -> Vec<(&'static str, Value)> {
        let side = |s: &Side| {
            json!({
                "accuracy": s.accuracy,
                "auto_resolve": s.auto_resolve_rate,
                "review_load": s.review_load as f64,
                "llm_cost": s.llm_cost,
                "reviewer_hours": s.reviewer_hours,
            })
        };
        let after = side(&self.after);
        let mut vars: Vec<(&'static str, Value)> = [
            "accuracy",
            "auto_resolve",
            "review_load",
            "llm_cost",
            "reviewer_hours",
        ]
        .into_iter()
        .map(|name| (name, after[name].clone()))
        .collect();
        vars.push(("before", side(&self.before)));
        vars.push(("runs", json!(self.runs as f64)));
        vars.push(("changed", json!(self.changed.len() as f64)));
        vars.push(("verdicts", json!(self.verdicts as f64)));
        vars
    }

    /// Whether `condition` (CEL over [`Figures::gate_variables`]) holds.
    pub fn fails(&self, condition: &str) -> Result<bool, String> {
        let vars = self.gate_variables();
        let refs: Vec<(&str, &Value)> = vars.iter().map(|(n, v)| (*n, v)).collect();
        handoff_spec::evaluate_condition(condition, &refs)
    }
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn change(r: &RunReplay) -> Option<Change> {
    let (b, a) = (&r.before, &r.after);
    let what: Vec<&'static str> = [
        ("label", b.label != a.label),
        ("route", b.decision.route != a.decision.route),
        ("priority", b.decision.priority != a.decision.priority),
        (
            "approval",
            b.decision.needs_approval != a.decision.needs_approval,
        ),
        ("actions", b.decision.actions != a.decision.actions),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect();
    (!what.is_empty()).then(|| Change {
        run_id: r.run_id.clone(),
        what,
        before: b.clone(),
        after: a.clone(),
    })
}

fn label_rows(replays: &[RunReplay]) -> Vec<LabelRow> {
    let mut rows: BTreeMap<String, LabelRow> = BTreeMap::new();
    for r in replays {
        for (side, o) in [(0, &r.before), (1, &r.after)] {
            let label = o.label.clone().unwrap_or_else(|| "(none)".into());
            let row = rows.entry(label.clone()).or_insert_with(|| LabelRow {
                label,
                ..LabelRow::default()
            });
            row.runs[side] += 1;
            row.auto_resolved[side] += usize::from(!o.decision.needs_approval);
            if let Some(verdict) = &r.verdict {
                row.verdicts[side] += 1;
                row.correct[side] += usize::from(o.label.as_ref() == Some(verdict));
            }
        }
    }
    rows.into_values().collect()
}
