//! `GET /`: what is running, waiting and failing, at a glance.

use maud::html;

use crate::domain::Run;
use crate::pages::layout;

pub struct DashboardView<'a> {
    pub by_status: Vec<(String, usize)>,
    pub by_workflow: Vec<(String, usize)>,
    /// Newest first.
    pub latest: &'a [Run],
    pub pending_approvals: usize,
    /// How many runs the counts cover, and whether older runs were left out.
    pub counted: usize,
    pub truncated: bool,
}

pub fn render(view: &DashboardView<'_>) -> String {
    layout(
        "Runs",
        html! {
            h1 { "handoff" }
            p {
                strong { (view.pending_approvals) } " pending approval(s). "
                span.muted {
                    @if view.truncated {
                        "Counts cover the latest " (view.counted) " runs."
                    } @else {
                        (view.counted) " run(s) in all."
                    }
                }
            }
            h2 { "By status" }
            table {
                @for (status, n) in &view.by_status {
                    tr { th { (status) } td { (n) } }
                }
            }
            h2 { "By workflow" }
            table {
                @for (workflow, n) in &view.by_workflow {
                    tr { th { (workflow) } td { (n) } }
                }
            }
            h2 { "Latest runs" }
            @if view.latest.is_empty() {
                p.muted { "No runs yet." }
            } @else {
                table {
                    tr { th { "Received" } th { "Workflow" } th { "Status" } th { "Label" } th { "Route" } }
                    @for run in view.latest {
                        tr {
                            td { (run.created_at.format("%Y-%m-%d %H:%M:%S")) br; code.muted { (run.id) } }
                            td { (run.workflow) }
                            td { (run.status) }
                            td { (run.summary.label.as_deref().unwrap_or("–")) }
                            td { (run.summary.route.as_deref().unwrap_or("–")) }
                        }
                    }
                }
            }
        },
    )
}
