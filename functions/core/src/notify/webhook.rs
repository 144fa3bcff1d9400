//! The generic notification webhook: a JSON event per reviewer, signed like
//! the `webhook` action (`x-handoff-signature`, see
//! [`crate::stages::act::sign_outbound`]). Its receiver may be a shared
//! place, so it gets the claim link (`/approvals/{id}/claim?r=…`, which
//! e-mails the reviewer), never the signed link.

use serde_json::{json, Value};

use crate::ports::Notification;

pub const REQUESTED: &str = "approval.requested";
pub const REMINDER: &str = "approval.reminder";

pub fn body(n: &Notification) -> Value {
    json!({
        "type": if n.reminder { REMINDER } else { REQUESTED },
        "run_id": n.run_id,
        "approval_id": n.approval_id,
        "workflow": n.workflow,
        "reviewer": n.reviewer,
        "subject": n.subject,
        "text": n.shared_text,
        "link": n.claim_link,
    })
}
