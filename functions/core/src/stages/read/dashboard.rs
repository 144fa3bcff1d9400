//! `GET /`: the dashboard, from the runs, approvals, feedback and accuracy
//! reviews of the workflows the caller may read.

use chrono::Duration;

use super::{query_status, unavailable, Outcome, ReadApi, ReadError, MAX_LIMIT};
use crate::domain::{Approval, Run};
use crate::http::{HttpRequest, HttpResponse};
use crate::observe::{review, stats};
use crate::pages::dashboard::{self, DashboardView, Filter};
use crate::ports::RunQuery;
use crate::tokens::Claims;

/// The dashboard counts at most this many of the newest runs, and lists at
/// most this many pending approvals.
pub const DASHBOARD_SCAN: usize = 1000;
/// The outcome figures cover this much of the recent past.
const OUTCOMES_HOURS: i64 = 24;
/// Feedback items read per workflow for the override rate.
const MAX_FEEDBACK: usize = 1000;

impl ReadApi {
    pub(super) async fn dashboard(&self, req: &HttpRequest, caller: &Claims) -> Outcome {
        let filter = Filter {
            workflow: self.query_workflow(req, caller)?,
            status: query_status(req)?,
        };
        let (runs, truncated) = self.readable_runs(caller).await?;
        let pending = self.readable_pending(caller).await?;
        let workflows: Vec<String> = self.readable(caller).map(str::to_string).collect();
        let now = self.clock.now();
        let outcomes = stats::gather(
            self.store.as_ref(),
            &runs,
            filter.workflow.as_deref(),
            now - Duration::hours(OUTCOMES_HOURS),
        )
        .await
        .map_err(unavailable)?;
        let mut reviews = Vec::new();
        let (mut judged, mut overridden) = (0, 0);
        for name in &workflows {
            reviews.extend(
                review::latest(self.store.as_ref(), name)
                    .await
                    .map_err(unavailable)?,
            );
            let feedback = self
                .store
                .list_feedback(name, MAX_FEEDBACK)
                .await
                .map_err(unavailable)?;
            judged += feedback.len();
            overridden += feedback
                .iter()
                .filter(|f| f.final_label != f.predicted_label)
                .count();
        }
        let outcomes_scope = match &filter.workflow {
            Some(w) => format!("{w}, last {OUTCOMES_HOURS} hours"),
            None => format!("last {OUTCOMES_HOURS} hours"),
        };
        let view = DashboardView {
            console: &self.console,
            runs: &runs,
            truncated,
            pending: &pending,
            workflows: &workflows,
            outcomes: &outcomes,
            outcomes_scope: &outcomes_scope,
            reviews: &reviews,
            judged,
            overridden,
            filter: &filter,
            now,
        };
        Ok(HttpResponse::html(200, dashboard::render(&view)))
    }

    /// The newest runs the caller may read, and whether older ones were
    /// left out.
    async fn readable_runs(&self, caller: &Claims) -> Result<(Vec<Run>, bool), ReadError> {
        let mut runs: Vec<Run> = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_runs(&RunQuery {
                    limit: MAX_LIMIT,
                    cursor,
                    ..RunQuery::default()
                })
                .await
                .map_err(unavailable)?;
            runs.extend(
                page.items
                    .into_iter()
                    .filter(|r| self.may_read(caller, &r.workflow)),
            );
            match page.next {
                Some(next) if runs.len() < DASHBOARD_SCAN => cursor = Some(next),
                Some(_) => return Ok((runs, true)),
                None => return Ok((runs, false)),
            }
        }
    }

    async fn readable_pending(&self, caller: &Claims) -> Result<Vec<Approval>, ReadError> {
        let mut pending = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .pending_approvals(MAX_LIMIT, cursor)
                .await
                .map_err(unavailable)?;
            pending.extend(
                page.items
                    .into_iter()
                    .filter(|a| self.may_read(caller, &a.workflow)),
            );
            match page.next {
                Some(next) if pending.len() < DASHBOARD_SCAN => cursor = Some(next),
                _ => return Ok(pending),
            }
        }
    }
}
