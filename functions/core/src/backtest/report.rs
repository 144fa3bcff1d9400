//! The backtest as a page a person can read: the figures before and after,
//! a chart of the review load per label, the per-label table and every run
//! whose decision changed. Run ids and labels only: no message text.

use maud::{html, Markup, PreEscaped};

use super::{Figures, Outcome, Side};
use crate::pages::layout;

pub fn page(figures: &Figures, spec_file: &str) -> String {
    layout(
        &format!("Backtest of {}", figures.workflow),
        html! {
            h1 { "Backtest of " (figures.workflow) }
            p.muted {
                "Candidate " code { (spec_file) } " replayed over " (figures.runs)
                " stored runs (" (figures.skipped) " skipped: no decision), "
                (figures.verdicts) " with a reviewer's verdict."
            }
            h2 { "Before and after" }
            (summary(&figures.before, &figures.after, figures.changed.len()))
            h2 { "Review load per label" }
            (chart(figures))
            h2 { "Per label" }
            (labels(figures))
            h2 { "Runs whose decision changed (" (figures.changed.len()) ")" }
            (changes(figures))
        },
    )
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "—".into(), |x| format!("{:.1}%", 100.0 * x))
}

fn summary(before: &Side, after: &Side, changed: usize) -> Markup {
    let row = |name: &str, b: String, a: String| {
        html! { tr { th { (name) } td { (b) } td { (a) } } }
    };
    html! {
        table id="summary" {
            tr { th {} th { "before" } th { "after" } }
            (row("acts alone", percent(Some(before.auto_resolve_rate)), percent(Some(after.auto_resolve_rate))))
            (row("review load (runs)", before.review_load.to_string(), after.review_load.to_string()))
            (row("accuracy vs verdicts", percent(before.accuracy), percent(after.accuracy)))
            (row("LLM cost", format!("{:.4}", before.llm_cost), format!("{:.4}", after.llm_cost)))
            (row("LLM tokens", before.llm_tokens.to_string(), after.llm_tokens.to_string()))
            (row("reviewer hours", format!("{:.1}", before.reviewer_hours), format!("{:.1}", after.reviewer_hours)))
            (row("decisions changed", String::new(), changed.to_string()))
        }
    }
}

/// Two bars per label, runs a person approves before (grey) and after
/// (blue), as inline SVG so the page needs no script.
fn chart(figures: &Figures) -> Markup {
    const ROW: f64 = 34.0;
    const LEFT: f64 = 170.0;
    const WIDTH: f64 = 640.0;
    let load = |runs: usize, auto: usize| runs - auto;
    let most = figures
        .labels
        .iter()
        .flat_map(|l| {
            [
                load(l.runs[0], l.auto_resolved[0]),
                load(l.runs[1], l.auto_resolved[1]),
            ]
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let scale = (WIDTH - LEFT - 60.0) / most;
    let height = ROW * figures.labels.len() as f64 + 30.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="review load per label" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="system-ui,sans-serif" font-size="12">"##
    );
    for (i, l) in figures.labels.iter().enumerate() {
        let y = ROW * i as f64 + 4.0;
        let (b, a) = (
            load(l.runs[0], l.auto_resolved[0]),
            load(l.runs[1], l.auto_resolved[1]),
        );
        svg.push_str(&format!(
            r##"<text x="{}" y="{}" text-anchor="end">{}</text><rect class="before" x="{LEFT}" y="{y}" width="{:.1}" height="12" fill="#aaaaaa"/><text x="{:.1}" y="{}">{b}</text><rect class="after" x="{LEFT}" y="{}" width="{:.1}" height="12" fill="#1f77b4"/><text x="{:.1}" y="{}">{a}</text>"##,
            LEFT - 8.0,
            y + 16.0,
            maud::html! { (l.label) }.into_string(),
            b as f64 * scale,
            LEFT + b as f64 * scale + 4.0,
            y + 10.0,
            y + 13.0,
            a as f64 * scale,
            LEFT + a as f64 * scale + 4.0,
            y + 23.0,
        ));
    }
    let legend = height - 8.0;
    svg.push_str(&format!(
        r##"<rect x="{LEFT}" y="{}" width="10" height="10" fill="#aaaaaa"/><text x="{}" y="{legend}">before</text><rect x="{}" y="{}" width="10" height="10" fill="#1f77b4"/><text x="{}" y="{legend}">after</text></svg>"##,
        legend - 9.0,
        LEFT + 14.0,
        LEFT + 70.0,
        legend - 9.0,
        LEFT + 84.0,
    ));
    html! { figure { (PreEscaped(svg)) } }
}

fn labels(figures: &Figures) -> Markup {
    let accuracy = |correct: usize, verdicts: usize| {
        percent((verdicts > 0).then(|| correct as f64 / verdicts as f64))
    };
    html! {
        table id="labels" {
            tr {
                th { "label" } th { "runs" } th { "acts alone" } th { "accuracy" }
            }
            @for l in &figures.labels {
                tr {
                    td { (l.label) }
                    td { (l.runs[0]) " → " (l.runs[1]) }
                    td { (l.auto_resolved[0]) " → " (l.auto_resolved[1]) }
                    td { (accuracy(l.correct[0], l.verdicts[0])) " → " (accuracy(l.correct[1], l.verdicts[1])) }
                }
            }
        }
    }
}

fn outcome(o: &Outcome) -> Markup {
    html! {
        (o.label.as_deref().unwrap_or("—")) " · " (o.decision.route) " · "
        (format!("{:?}", o.decision.priority).to_lowercase()) " · "
        (if o.decision.needs_approval { "approval" } else { "acts alone" })
    }
}

fn changes(figures: &Figures) -> Markup {
    html! {
        @if figures.changed.is_empty() {
            p { "No decision changed." }
        } @else {
            table id="changed" {
                tr { th { "run" } th { "changed" } th { "before" } th { "after" } }
                @for c in &figures.changed {
                    tr {
                        td { code { (c.run_id) } }
                        td { (c.what.join(", ")) }
                        td { (outcome(&c.before)) }
                        td { (outcome(&c.after)) }
                    }
                }
            }
        }
    }
}
