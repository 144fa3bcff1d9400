//! The page a blind audit's link opens: the message and the workflow's
//! labels, and nothing of what the AI said (label, confidence, rationale,
//! route, draft), so the auditor's label is their own.

use maud::html;

use crate::pages::approval::TEXT_EXCERPT;
use crate::pages::{layout, truncate};

pub struct AuditView<'a> {
    pub workflow: &'a str,
    pub auditor: &'a str,
    pub received_at: Option<String>,
    pub subject: Option<&'a str>,
    pub text: Option<&'a str>,
    /// `(label, description)` of the primary classify task, in spec order.
    pub labels: Vec<(String, String)>,
    /// The auditor's label, once given.
    pub answered: Option<&'a str>,
    /// The link's own query, so the POST carries the same signature.
    pub form_action: String,
}

pub fn render(view: &AuditView<'_>) -> String {
    let title = format!("Blind audit: {}", view.workflow);
    layout(
        &title,
        html! {
            h1 { (title) }
            p {
                "This run acted without a person. Read the message and choose the label you would give it. "
                "What the AI answered is not shown, on purpose: your label is compared with it."
            }
            @if let Some(label) = view.answered {
                p.notice { "You labelled it “" (label) "”. Thank you." }
            }
            h2 { "Message" }
            @if let Some(at) = &view.received_at {
                p.muted { "Received " (at) }
            }
            @if let Some(subject) = view.subject {
                p { strong { (truncate(subject, 300)) } }
            }
            @if let Some(text) = view.text {
                pre { (truncate(text, TEXT_EXCERPT)) }
            }
            @if view.answered.is_none() {
                form method="post" action=(view.form_action) {
                    h2 { "Your label" }
                    p.muted { "Signed in as " (view.auditor) "." }
                    fieldset id="labels" {
                        @for (name, description) in &view.labels {
                            p {
                                label {
                                    input type="radio" name="label" value=(name) required;
                                    " " strong { (name) } " · " span.muted { (description) }
                                }
                            }
                        }
                    }
                    div.actions {
                        button.approve type="submit" { "Record my label" }
                    }
                }
            }
        },
    )
}
