//! `/approvals/{id}/claim?r=<reviewer>`: where a shared channel's button
//! points. The signed link is a capability for one reviewer; a Slack
//! channel or a webhook receiver is read by many, so they get this page,
//! which e-mails the reviewer their own link. Opening it (GET, HEAD: mail
//! scanners and prefetchers) sends nothing; the button (POST) sends at most
//! one mail per reviewer and approval every [`RESEND_AFTER_SECONDS`].

use chrono::Duration;
use maud::html;
use serde_json::json;
use tracing::warn;

use super::{approval_id, Callback, Refusal, Reply};
use crate::domain::*;
use crate::http::HttpRequest;
use crate::links;
use crate::pages;
use crate::stages::approval::{message_inputs, notification};
use crate::stages::audit;

pub const RESEND_AFTER_SECONDS: i64 = 300;
const LINK_SENT: &str = "approval.link_sent";

impl Callback {
    /// The approval and the reviewer the claim names, while it is open.
    async fn claimed(&self, req: &HttpRequest) -> Result<(Approval, String), Refusal> {
        let id = approval_id(req)?;
        let approval = self.stored_approval(&id).await?;
        let reviewer = req
            .query
            .get("r")
            .and_then(|r| {
                approval
                    .reviewers
                    .iter()
                    .find(|x| x.eq_ignore_ascii_case(r.trim()))
            })
            .cloned()
            .ok_or(Refusal::NotFound)?;
        if approval.status != ApprovalStatus::Pending {
            return Err(Refusal::NothingLeftToAnswer);
        }
        if approval.votes.iter().any(|v| v.reviewer == reviewer) {
            return Err(Refusal::AlreadyAnswered);
        }
        Ok((approval, reviewer))
    }

    pub(super) async fn show_claim(&self, req: &HttpRequest) -> Result<Reply, Refusal> {
        let (approval, reviewer) = self.claimed(req).await?;
        let masked = mask(&reviewer);
        let page = pages::layout(
            "Get your review link",
            html! {
                h1 { "Get your review link" }
                p { "A " (approval.workflow) " run waits for a decision. The link to review it is personal, so it goes to the reviewer's own address, not to this channel." }
                form method="post" {
                    div.actions { button type="submit" { "E-mail my link to " (masked) } }
                }
            },
        );
        let mut reply = Reply::new(
            200,
            "claim",
            "Get your review link",
            "POST to e-mail the reviewer their link.",
        )
        .with("reviewer", json!(masked));
        reply.page = Some(page);
        Ok(reply)
    }

    pub(super) async fn send_claim(&self, req: &HttpRequest) -> Result<Reply, Refusal> {
        let (approval, reviewer) = self.claimed(req).await?;
        let now = self.clock.now();
        let trail = self
            .store
            .trail(&approval.run_id)
            .await
            .map_err(|_| Refusal::Unavailable)?;
        let recently = trail.iter().any(|e| {
            e.kind == LINK_SENT
                && e.detail["approval_id"] == json!(approval.id)
                && e.detail["reviewer"] == json!(reviewer)
                && e.at > now - Duration::seconds(RESEND_AFTER_SECONDS)
        });
        let masked = mask(&reviewer);
        if recently {
            return Err(Refusal::RecentlySent(masked));
        }
        let secret = self.link_key().await?;
        let base = self.base_url(req)?;
        let link = links::approval_link(
            &base,
            &secret,
            &approval.id,
            &reviewer,
            approval.expires_at.timestamp(),
        );
        let (primary, event) = message_inputs(self.store.as_ref(), &self.catalog, &approval)
            .await
            .map_err(|_| Refusal::Unavailable)?;
        let message = notification(
            &approval,
            primary.as_ref(),
            event.as_ref(),
            &reviewer,
            link,
            &base,
        );
        self.email.notify(&message).await.map_err(|e| {
            warn!(run_id = %approval.run_id, error = %e, "claimed link not sent");
            Refusal::Unavailable
        })?;
        audit::record(
            self.store.as_ref(),
            self.clock.as_ref(),
            &approval.run_id,
            Stage::Approval,
            LINK_SENT,
            json!({ "approval_id": approval.id, "reviewer": reviewer, "channel": "email" }),
        )
        .await
        .map_err(|_| Refusal::Unavailable)?;
        Ok(Reply::new(
            200,
            "sent",
            "Link sent",
            format!("Your review link is on its way to {masked}."),
        ))
    }
}

impl Callback {
    fn base_url(&self, req: &HttpRequest) -> Result<String, Refusal> {
        if !self.public_url.is_empty() {
            return Ok(self.public_url.clone());
        }
        req.header("host")
            .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ']))
            .map(|h| format!("https://{h}"))
            .ok_or(Refusal::Unavailable)
    }
}

/// `ana@example.com` → `a••@example.com`: enough for the reviewer to
/// recognise, not a directory of addresses for the channel.
fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}••@{domain}")
        }
        None => "••".into(),
    }
}
