//! The outcome figures of the dashboard and `handoff stats`, computed from
//! what the run store holds: the same quantities the functions emit as
//! metrics.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use serde::Serialize;

use crate::domain::{Approval, Feedback, Run, RunStatus};
use crate::ports::{RunStore, StoreError};

/// The most feedback items read per workflow.
const MAX_FEEDBACK: usize = 20_000;
/// Approval reads in flight at once.
const CONCURRENT_READS: usize = 16;

/// How often the reviewers kept the AI's label, for one AI label.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LabelAccuracy {
    /// Reviewed runs the AI gave this label.
    pub reviewed: usize,
    /// Of those, how many the reviewer left unchanged.
    pub kept: usize,
}

impl LabelAccuracy {
    pub fn accuracy(&self) -> Option<f64> {
        (self.reviewed > 0).then(|| self.kept as f64 / self.reviewed as f64)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub received: usize,
    pub completed: usize,
    pub rejected: usize,
    pub failed: usize,
    /// Not final yet (received, running or awaiting approval).
    pub open: usize,
    /// Finished without a person's vote.
    pub auto_resolved: usize,
    pub reviewed: usize,
    /// Decided approvals and their wait, created to decided.
    pub approvals_decided: usize,
    pub approval_latency_p50_ms: Option<i64>,
    pub approval_latency_p90_ms: Option<i64>,
    /// Reviewed AI answers, and those whose label the reviewer changed.
    pub reviewed_answers: usize,
    pub overrides: usize,
    pub mean_confidence: Option<f64>,
    /// Per AI label, what the reviewers did with it.
    pub labels: BTreeMap<String, LabelAccuracy>,
}

impl Stats {
    pub fn override_rate(&self) -> Option<f64> {
        (self.reviewed_answers > 0).then(|| self.overrides as f64 / self.reviewed_answers as f64)
    }

    /// The figures for runs (and their approvals and feedback) of
    /// `workflow` (all when `None`) created at or after `since`.
    pub fn compute(
        runs: &[Run],
        approvals: &[Approval],
        feedback: &[Feedback],
        workflow: Option<&str>,
        since: DateTime<Utc>,
    ) -> Stats {
        let in_scope =
            |wf: &str, at: DateTime<Utc>| workflow.is_none_or(|w| w == wf) && at >= since;
        let mut s = Stats::default();
        let mut confidences = Vec::new();
        for run in runs.iter().filter(|r| in_scope(&r.workflow, r.created_at)) {
            s.received += 1;
            match run.status {
                RunStatus::Completed => s.completed += 1,
                RunStatus::Rejected => s.rejected += 1,
                RunStatus::Failed => s.failed += 1,
                _ => s.open += 1,
            }
            if matches!(run.status, RunStatus::Completed | RunStatus::Rejected) {
                if run.summary.reviewed {
                    s.reviewed += 1;
                } else {
                    s.auto_resolved += 1;
                }
            }
            confidences.extend(run.summary.confidence);
        }
        if !confidences.is_empty() {
            s.mean_confidence = Some(confidences.iter().sum::<f64>() / confidences.len() as f64);
        }
        let mut waits: Vec<i64> = approvals
            .iter()
            .filter(|a| in_scope(&a.workflow, a.created_at))
            .filter_map(|a| Some((a.decided_at? - a.created_at).num_milliseconds().max(0)))
            .collect();
        waits.sort_unstable();
        s.approvals_decided = waits.len();
        s.approval_latency_p50_ms = percentile(&waits, 50);
        s.approval_latency_p90_ms = percentile(&waits, 90);
        for f in feedback.iter().filter(|f| in_scope(&f.workflow, f.at)) {
            s.reviewed_answers += 1;
            let kept = f.final_label == f.predicted_label;
            if !kept {
                s.overrides += 1;
            }
            let label = s.labels.entry(f.predicted_label.clone()).or_default();
            label.reviewed += 1;
            label.kept += usize::from(kept);
        }
        s
    }
}

/// The figures for `runs` (as read, newest first) of `workflow` (all when
/// `None`) since `since`, with their approvals and their workflows'
/// feedback from the store.
pub async fn gather(
    store: &dyn RunStore,
    runs: &[Run],
    workflow: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Stats, StoreError> {
    let in_scope: Vec<&Run> = runs
        .iter()
        .filter(|r| r.created_at >= since && workflow.is_none_or(|w| w == r.workflow))
        .collect();
    let mut approvals = Vec::new();
    for chunk in in_scope.chunks(CONCURRENT_READS) {
        let reads = chunk.iter().map(|run| store.approvals_of_run(&run.id));
        approvals.extend(try_join_all(reads).await?.into_iter().flatten());
    }
    let workflows: BTreeSet<&str> = in_scope.iter().map(|r| r.workflow.as_str()).collect();
    let mut feedback = Vec::new();
    for name in workflows {
        feedback.extend(store.list_feedback(name, MAX_FEEDBACK).await?);
    }
    Ok(Stats::compute(runs, &approvals, &feedback, workflow, since))
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// `24h`, `7d`, `30m`, `90s` as a duration.
pub fn parse_since(text: &str) -> Option<chrono::Duration> {
    let text = text.trim();
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    match unit {
        "s" => Some(chrono::Duration::seconds(n)),
        "m" => Some(chrono::Duration::minutes(n)),
        "h" => Some(chrono::Duration::hours(n)),
        "d" => Some(chrono::Duration::days(n)),
        "w" => Some(chrono::Duration::weeks(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;
    use chrono::Duration;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-15T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::minutes(minutes)
    }

    fn run(n: u32, workflow: &str, status: RunStatus, reviewed: bool, minute: i64) -> Run {
        let mut r: Run = serde_json::from_value(serde_json::json!({
            "id": format!("run-{n:032x}"), "workflow": workflow, "status": status,
            "stage": "finalize", "delivery_id": n.to_string(),
            "created_at": at(minute), "updated_at": at(minute),
            "summary": {}
        }))
        .expect("a run");
        r.summary.reviewed = reviewed;
        r.summary.confidence = Some(0.5 + f64::from(n) / 10.0);
        r
    }

    fn approval(workflow: &str, minute: i64, waited_min: Option<i64>) -> Approval {
        serde_json::from_value(serde_json::json!({
            "id": "a", "run_id": "run-1", "workflow": workflow, "task_token": "t",
            "reviewers": [], "required": 1, "status": "approved", "escalation": false,
            "created_at": at(minute), "expires_at": at(minute + 240),
            "decided_at": waited_min.map(|w| at(minute + w)),
        }))
        .expect("an approval")
    }

    fn feedback(workflow: &str, predicted: &str, final_label: &str, minute: i64) -> Feedback {
        Feedback {
            workflow: workflow.into(),
            run_id: RunId("run-1".into()),
            at: at(minute),
            text: String::new(),
            predicted_label: predicted.into(),
            confidence: 0.9,
            final_label: final_label.into(),
            edits: None,
            reviewer: "r".into(),
            status: FeedbackStatus::Confirmed,
        }
    }

    #[test]
    fn counts_outcomes_latency_and_overrides_in_scope() {
        let runs = vec![
            run(1, "support", RunStatus::Completed, false, 10),
            run(2, "support", RunStatus::Completed, true, 20),
            run(3, "support", RunStatus::Rejected, true, 30),
            run(4, "support", RunStatus::Failed, false, 40),
            run(5, "support", RunStatus::AwaitingApproval, false, 50),
            run(6, "leads", RunStatus::Completed, false, 50),
            run(7, "support", RunStatus::Completed, false, -120),
        ];
        let approvals = vec![
            approval("support", 20, Some(2)),
            approval("support", 30, Some(10)),
            approval("support", 50, None),
            approval("leads", 50, Some(60)),
        ];
        let feedback = vec![
            feedback("support", "refund", "refund", 25),
            feedback("support", "refund", "card", 35),
            feedback("support", "card", "card", 36),
            feedback("leads", "hot", "cold", 50),
        ];
        let s = Stats::compute(&runs, &approvals, &feedback, Some("support"), at(0));
        assert_eq!(
            (s.received, s.completed, s.rejected, s.failed, s.open),
            (5, 2, 1, 1, 1)
        );
        assert_eq!((s.auto_resolved, s.reviewed), (1, 2));
        assert_eq!(s.approvals_decided, 2);
        assert_eq!(s.approval_latency_p50_ms, Some(2 * 60_000));
        assert_eq!(s.approval_latency_p90_ms, Some(10 * 60_000));
        assert_eq!((s.reviewed_answers, s.overrides), (3, 1));
        assert!((s.override_rate().unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            s.labels["refund"],
            LabelAccuracy {
                reviewed: 2,
                kept: 1
            }
        );
        assert_eq!(s.labels["card"].accuracy(), Some(1.0));
        assert!((s.mean_confidence.unwrap() - 0.8).abs() < 1e-9);

        let all = Stats::compute(&runs, &approvals, &feedback, None, at(-1000));
        assert_eq!(all.received, 7);
        assert_eq!(all.overrides, 2);
    }

    #[test]
    fn nothing_in_scope_has_no_rates() {
        let s = Stats::compute(&[], &[], &[], None, at(0));
        assert_eq!(s.override_rate(), None);
        assert_eq!(s.approval_latency_p50_ms, None);
        assert_eq!(s.mean_confidence, None);
    }

    #[test]
    fn since_reads_units() {
        assert_eq!(parse_since("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_since("7d"), Some(Duration::days(7)));
        assert_eq!(parse_since("30m"), Some(Duration::minutes(30)));
        assert_eq!(parse_since("1w"), Some(Duration::weeks(1)));
        assert_eq!(parse_since("h"), None);
        assert_eq!(parse_since("12"), None);
        assert_eq!(parse_since("3y"), None);
    }
}
