//! Why a reviewer's link or form was refused: each reason's status, code,
//! page title and message, decided here once.

use serde_json::{json, Value};

use super::{Reply, MAX_FORM_BYTES};
use crate::domain::ApprovalStatus;
use crate::http::ApiError;

#[derive(Debug, thiserror::Error)]
pub(super) enum Refusal {
    #[error("Open the link, or use the buttons on its page.")]
    MethodNotAllowed,
    #[error("The link was changed or is incomplete. Open the link exactly as you received it.")]
    BadSignature,
    #[error(
        "The time to answer this request has passed; the workflow's timeout policy decides it."
    )]
    Expired,
    #[error("The link is missing a part ({0}). Open the link exactly as you received it.")]
    MalformedLink(String),
    #[error("This link is not for a reviewer of this request.")]
    NotAReviewer,
    #[error("There is no approval at this address.")]
    NotFound,
    #[error("The decision must be `approve` or `reject`.")]
    InvalidVerdict,
    #[error("`{0}` is not a label of this workflow.")]
    UnknownLabel(String),
    #[error("The form is limited to {MAX_FORM_BYTES} bytes.")]
    FormTooLarge,
    #[error("The submitted form could not be read: {0}.")]
    MalformedForm(String),
    #[error("Send the form as application/x-www-form-urlencoded or JSON.")]
    UnsupportedForm,
    /// The request stopped waiting; with the approval's status when known.
    #[error("The request stopped waiting before your answer arrived (it timed out or the run ended), so your answer did not change the outcome.")]
    Closed(Option<ApprovalStatus>),
    /// A repeated or late answer, with what was decided.
    #[error("{message}")]
    AlreadyDecided {
        message: String,
        status: ApprovalStatus,
        votes: Vec<Value>,
        decided_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    #[error("This request was decided; there is nothing left to answer.")]
    NothingLeftToAnswer,
    #[error("This reviewer's answer is recorded.")]
    AlreadyAnswered,
    /// The masked address the link went to.
    #[error("A link went to {0} a few minutes ago; check that inbox.")]
    RecentlySent(String),
    #[error("Your vote is recorded and settles this request. The workflow service did not take it yet; it will be delivered automatically, or open your link again in a minute and press the same button.")]
    SavedNotDelivered,
    #[error("The document is no longer kept: its retention period has passed.")]
    DocumentGone,
    /// Why the page cannot be drawn; names limits, never content.
    #[error("This page of the document cannot be shown: {0}.")]
    Unrenderable(String),
    #[error(
        "The service is briefly unavailable; nothing was decided. Please try again in a minute."
    )]
    Unavailable,
}

impl ApiError for Refusal {
    fn status(&self) -> u16 {
        use Refusal::*;
        match self {
            MalformedLink(_) | MalformedForm(_) => 400,
            BadSignature | NotAReviewer => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            AlreadyDecided { .. } | NothingLeftToAnswer | AlreadyAnswered => 409,
            Expired | Closed(_) | DocumentGone => 410,
            FormTooLarge => 413,
            UnsupportedForm => 415,
            InvalidVerdict | UnknownLabel(_) | Unrenderable(_) => 422,
            RecentlySent(_) => 429,
            SavedNotDelivered | Unavailable => 503,
        }
    }

    fn code(&self) -> &'static str {
        use Refusal::*;
        match self {
            MethodNotAllowed => "method_not_allowed",
            BadSignature => "bad_signature",
            Expired => "expired",
            MalformedLink(_) => "malformed_link",
            NotAReviewer => "not_a_reviewer",
            NotFound => "not_found",
            InvalidVerdict => "invalid_verdict",
            UnknownLabel(_) => "unknown_label",
            FormTooLarge => "payload_too_large",
            MalformedForm(_) => "malformed_body",
            UnsupportedForm => "unsupported_media_type",
            Closed(_) => "closed",
            AlreadyDecided { .. } | NothingLeftToAnswer => "already_decided",
            AlreadyAnswered => "already_answered",
            RecentlySent(_) => "recently_sent",
            SavedNotDelivered => "saved_not_delivered",
            DocumentGone => "document_gone",
            Unrenderable(_) => "document_unrenderable",
            Unavailable => "unavailable",
        }
    }
}

impl Refusal {
    fn title(&self) -> &'static str {
        use Refusal::*;
        match self {
            MethodNotAllowed => "Not allowed",
            BadSignature => "This link is not valid",
            Expired => "This link has expired",
            MalformedLink(_) => "This link is incomplete",
            NotAReviewer => "Not your approval",
            NotFound => "Approval not found",
            InvalidVerdict => "Choose approve or reject",
            UnknownLabel(_) => "Unknown label",
            FormTooLarge => "Too large",
            MalformedForm(_) => "Unreadable form",
            UnsupportedForm => "Unsupported form",
            Closed(_) => "This approval is closed",
            AlreadyDecided { .. } | NothingLeftToAnswer => "Already decided",
            AlreadyAnswered => "Already answered",
            RecentlySent(_) => "Already sent",
            SavedNotDelivered => "Your answer is saved but not yet delivered",
            DocumentGone => "Document no longer kept",
            Unrenderable(_) => "Page cannot be shown",
            Unavailable => "Try again shortly",
        }
    }

    /// The page or JSON answer that says so.
    pub(super) fn reply(&self) -> Reply {
        let reply = Reply::new(self.status(), self.code(), self.title(), self.to_string());
        match self {
            Refusal::Closed(Some(status)) => reply.with("approval_status", json!(status)),
            Refusal::AlreadyDecided {
                status,
                votes,
                decided_at,
                ..
            } => reply
                .with("approval_status", json!(status))
                .with("votes", json!(votes))
                .with("decided_at", json!(decided_at)),
            _ => reply,
        }
    }
}
