//! The page a reviewer's link opens: what the run is, what the AI concluded,
//! what would happen, and a form that decides only when POSTed.

use maud::html;

use crate::domain::{AiResult, Approval, ApprovalStatus, Vote};
use crate::pages::{layout, truncate};

/// How much of the incoming text a reviewer sees on the page.
pub const TEXT_EXCERPT: usize = 4000;

/// Everything the page shows; the stage gathers it from the run store.
pub struct ApprovalView<'a> {
    pub approval: &'a Approval,
    pub reviewer: &'a str,
    pub received_at: Option<String>,
    pub route: Option<String>,
    pub priority: Option<String>,
    pub decision_reason: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub ai: Option<&'a AiResult>,
    /// `(action name, connector kind)`.
    pub actions: Vec<(String, String)>,
    /// The primary classify task's labels, for relabelling.
    pub labels: Vec<String>,
    /// The primary classify task's label, preselected.
    pub label: Option<String>,
    /// The first draft task's text, editable.
    pub draft: Option<String>,
    /// The run's documents, page by page, shown beside `fields`.
    pub documents: Vec<DocumentView>,
    /// The extract tasks' fields, editable while the reviewer may answer.
    pub fields: Vec<FieldView>,
    /// The form's action: the link's own query, so the POST carries the
    /// same signature.
    pub form_action: String,
}

/// One attachment as the page shows it.
pub struct DocumentView {
    pub name: String,
    pub media_type: String,
    /// What read it and how sure OCR was, e.g. "tesseract, OCR confidence 91%".
    pub reading: Option<String>,
    /// Why it could not be read, if so.
    pub unreadable: Option<String>,
    /// Each page's image, relative to the page's own address.
    pub page_urls: Vec<String>,
}

/// One field an extract task filled (or left empty).
pub struct FieldView {
    pub task: String,
    pub name: String,
    /// As the reviewer edits it: a string as it is, anything else as JSON.
    pub value: String,
    /// Edited as JSON (objects and arrays): a larger box.
    pub structured: bool,
    pub description: Option<String>,
}

impl FieldView {
    /// The form field's name: `field.<task>.<field>`.
    pub fn input_name(&self) -> String {
        format!("{FIELD_PREFIX}{}.{}", self.task, self.name)
    }
}

/// Form fields named `field.<task>.<field>` correct an extracted field.
pub const FIELD_PREFIX: &str = "field.";

pub fn render(view: &ApprovalView<'_>) -> String {
    let a = view.approval;
    let own_vote = a.vote_of(view.reviewer);
    let approvals = a
        .votes
        .iter()
        .filter(|v| v.verdict == crate::domain::Verdict::Approve)
        .count();
    let open = a.status == ApprovalStatus::Pending && own_vote.is_none();
    let title = format!("Approve {} run?", a.workflow);
    layout(
        &title,
        html! {
            h1 { (title) }
            @if a.escalation {
                p.notice { "Escalated: the first reviewers did not answer in time." }
            }
            @if let Some(vote) = own_vote {
                p.notice { (your_vote(vote)) }
            }
            @if a.status != ApprovalStatus::Pending {
                p.notice { (closed_notice(a)) }
            }
            h2 { "Run" }
            table {
                tr { th { "Workflow" } td { (a.workflow) } }
                tr { th { "Run" } td { code { (a.run_id) } } }
                tr { th { "Received" } td { (view.received_at.as_deref().unwrap_or("–")) } }
                tr { th { "Route" } td { (view.route.as_deref().unwrap_or("–")) } }
                tr { th { "Priority" } td { (view.priority.as_deref().unwrap_or("–")) } }
                @if let Some(reason) = &view.decision_reason {
                    tr { th { "Why approval" } td { (reason) } }
                }
                tr { th { "Approvals" } td { (approvals) " of " (a.required) " needed (" (a.reviewers.len()) " reviewers)" } }
                tr { th { "Link expires" } td { (a.expires_at.format("%Y-%m-%d %H:%M UTC")) } }
            }
            h2 { "Input" }
            @if let Some(subject) = &view.subject {
                p { strong { (truncate(subject, 300)) } }
            }
            @if let Some(text) = &view.text {
                pre { (truncate(text, TEXT_EXCERPT)) }
            }
            @if !view.documents.is_empty() || !view.fields.is_empty() {
                (documents_and_fields(view, open))
            }
            h2 { "AI output" }
            @match view.ai {
                Some(ai) => {
                    table {
                        @for (task, value) in &ai.outputs {
                            @match task_view(value) {
                                TaskView::Label { label, confidence, tier, rationale } => {
                                    tr { th { (task) } td { strong { (label) } " · Confidence " (format!("{:.0}%", confidence * 100.0)) " · " (tier) } }
                                    @if !rationale.is_empty() {
                                        tr { th { "Rationale" } td.muted { (rationale) } }
                                    }
                                }
                                TaskView::Text { text, tier } => {
                                    tr { th { (task) } td { (truncate(&text, TEXT_EXCERPT)) " " span.muted { "(" (tier) ")" } } }
                                }
                                TaskView::Fields(fields) if view.fields.is_empty() => {
                                    @for (name, value) in fields {
                                        tr { th { (task) "." (name) } td { (field_text(&value)) } }
                                    }
                                }
                                TaskView::Fields(_) => {}
                            }
                        }
                        @if !ai.review_reasons.is_empty() {
                            tr { th { "Review because" } td { (ai.review_reasons.join("; ")) } }
                        }
                    }
                }
                None => { p.muted { "The AI step left no output for this run." } }
            }
            h2 { "Proposed actions" }
            @if view.actions.is_empty() {
                p.muted { "None: approving only records the decision." }
            } @else {
                ul {
                    @for (name, kind) in &view.actions {
                        li { code { (name) } " (" (kind) ")" }
                    }
                }
            }
            @if open {
                form #decision method="post" action=(view.form_action) {
                    h2 { "Your decision" }
                    p.muted { "Signed in as " (view.reviewer) ". Nothing is decided until you press a button." }
                    @if let Some(draft) = &view.draft {
                        label for="draft" { "Draft (edit before it is sent)" }
                        textarea id="draft" name="draft" { (draft) }
                    }
                    @if !view.labels.is_empty() {
                        p {
                            label for="label" { "Label" }
                            select id="label" name="label" {
                                @for l in &view.labels {
                                    option value=(l) selected[view.label.as_ref() == Some(l)] { (l) }
                                }
                            }
                        }
                    }
                    p {
                        label for="reason" { "Reason (optional)" }
                        input type="text" id="reason" name="reason" maxlength="2000";
                    }
                    div.actions {
                        button.approve type="submit" name="verdict" value="approve" { "Approve" }
                        button.reject type="submit" name="verdict" value="reject" { "Reject" }
                    }
                }
            }
        },
    )
}

/// The documents' pages on the left, the fields read from them on the
/// right, editable (inputs of the decision form, by `form=`) while open.
fn documents_and_fields(view: &ApprovalView<'_>, open: bool) -> maud::Markup {
    html! {
        h2 { @if view.documents.is_empty() { "Extracted fields" } @else { "Documents and extracted fields" } }
        div class=[(!view.documents.is_empty()).then_some("document-review")] {
            @if !view.documents.is_empty() {
                div.pages {
                    @for (i, doc) in view.documents.iter().enumerate() {
                        p.muted {
                            strong { (doc.name) } " · " (doc.media_type) " · "
                            (doc.page_urls.len()) @if doc.page_urls.len() == 1 { " page" } @else { " pages" }
                            @if let Some(reading) = &doc.reading { " · read by " (reading) }
                        }
                        @if let Some(why) = &doc.unreadable {
                            p.notice { "Could not be read: " (why) }
                        }
                        @for (p, url) in doc.page_urls.iter().enumerate() {
                            img src=(url) loading="lazy"
                                alt=(format!("Document {} page {}", i + 1, p + 1));
                        }
                    }
                }
            }
            div.fields {
                @if open && !view.fields.is_empty() {
                    p.muted { "Correct a field before you approve: actions use your values, and the AI learns from them." }
                }
                @for f in &view.fields {
                    @let id = f.input_name();
                    p {
                        label for=(id) { (f.task) "." (f.name) }
                        @if let Some(d) = &f.description { br; span.muted { (d) } }
                        @if !open {
                            br; (if f.value.is_empty() { "–" } else { f.value.as_str() })
                        } @else if f.structured {
                            textarea.json id=(id) name=(id) form="decision" { (f.value) }
                        } @else {
                            input type="text" id=(id) name=(id) form="decision" value=(f.value);
                        }
                    }
                }
            }
        }
    }
}

/// A field's value as the page shows and edits it.
pub fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn your_vote(vote: &Vote) -> String {
    format!(
        "You answered “{}” on {}.",
        verdict_word(vote),
        vote.at.format("%Y-%m-%d %H:%M UTC")
    )
}

fn verdict_word(vote: &Vote) -> &'static str {
    match vote.verdict {
        crate::domain::Verdict::Approve => "approve",
        crate::domain::Verdict::Reject => "reject",
    }
}

/// "Approved by a, b on …": who closed the approval and when.
pub fn closed_notice(a: &Approval) -> String {
    let when = a
        .decided_at
        .map(|t| t.format(" on %Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let by = |verdict| {
        a.votes
            .iter()
            .filter(|v| v.verdict == verdict)
            .map(|v| v.reviewer.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match a.status {
        ApprovalStatus::Pending => "This approval is still open.".to_string(),
        ApprovalStatus::Approved => {
            let who = by(crate::domain::Verdict::Approve);
            if who.is_empty() {
                format!("This request was approved by policy{when}.")
            } else {
                format!("This request was already approved by {who}{when}.")
            }
        }
        ApprovalStatus::Rejected => format!(
            "This request was already rejected by {}{when}.",
            by(crate::domain::Verdict::Reject)
        ),
        ApprovalStatus::Expired => {
            format!("This approval closed without a decision: nobody answered in time{when}.")
        }
    }
}

/// How one task's result reads on the page.
enum TaskView {
    Label {
        label: String,
        confidence: f64,
        tier: String,
        rationale: String,
    },
    Text {
        text: String,
        tier: String,
    },
    Fields(Vec<(String, serde_json::Value)>),
}

fn task_view(value: &serde_json::Value) -> TaskView {
    let s = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    if let Some(confidence) = value.get("confidence").and_then(|v| v.as_f64()) {
        return TaskView::Label {
            label: s("label"),
            confidence,
            tier: s("tier"),
            rationale: s("rationale"),
        };
    }
    if value.get("text").is_some_and(|t| t.is_string()) {
        return TaskView::Text {
            text: s("text"),
            tier: s("tier"),
        };
    }
    TaskView::Fields(
        value
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    )
}
