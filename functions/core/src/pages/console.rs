//! The frame of the operator's pages (the dashboard in every deployment, the
//! local runtime's timeline and outbox): wider than a reviewer's page, with
//! a navigation bar.

use maud::{html, Markup, PreEscaped};

use crate::pages::layout;

const STYLE: &str = "body{max-width:72rem!important}th{width:auto!important}nav a{margin-right:1rem}\
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem}\
.card{border:1px solid #ddd;border-radius:6px;padding:.8rem}.big{font-size:1.6rem;font-weight:600}\
td.num{text-align:right}.s-COMPLETED{color:#0a7d32}.s-FAILED,.s-REJECTED{color:#b3261e}.s-AWAITING_APPROVAL{color:#8a6d00}";

/// Where the operator's pages link, beyond what every deployment serves.
#[derive(Debug, Clone)]
pub struct Console {
    /// A run's page: the run id is appended.
    pub run_page: &'static str,
    /// More pages for the navigation bar, as (path, title).
    pub nav: &'static [(&'static str, &'static str)],
}

impl Console {
    /// A deployment: a run links to its JSON at `GET /runs/{id}`.
    pub const DEPLOYED: Console = Console {
        run_page: "/runs/",
        nav: &[],
    };

    pub fn run_href(&self, id: &impl std::fmt::Display) -> String {
        format!("{}{id}", self.run_page)
    }
}

/// A complete operator page.
pub fn page(console: &Console, title: &str, body: Markup) -> String {
    layout(
        title,
        html! {
            style { (PreEscaped(STYLE)) }
            nav {
                a href="/" { "Dashboard" }
                @for (path, name) in console.nav { a href=(path) { (name) } }
                a href="/runs" { "Runs (JSON)" }
            }
            (body)
        },
    )
}
