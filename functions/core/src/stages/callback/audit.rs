//! `GET|HEAD|POST /audits/{run}`: the blind audit's link. Like an approval
//! link, opening it decides nothing; POST records the auditor's label once.

use super::refusal::Refusal;
use super::{parse_submission, Callback, Reply};
use crate::domain::*;
use crate::http::HttpRequest;
use crate::links::{self, LinkClaims, LinkError};
use crate::pages::{self, audit::AuditView};
use crate::ports::*;
use crate::stages::blind_audit::{self, AuditError};

impl Callback {
    /// Verifies the link (before anything is read) and finds its audit.
    async fn open_audit(&self, req: &HttpRequest) -> Result<(BlindAudit, LinkClaims), Refusal> {
        let run = req
            .path_params
            .get("id")
            .filter(|id| !id.is_empty())
            .map(|id| RunId(id.clone()))
            .ok_or(Refusal::NotFound)?;
        let secret = self.link_key().await?;
        let claims = links::verify_link(
            &secret,
            &links::audit_subject(&run),
            &req.query,
            self.clock.now(),
        )
        .map_err(|e| match e {
            LinkError::BadSignature => Refusal::BadSignature,
            LinkError::Expired => Refusal::Expired,
            LinkError::Malformed(why) => Refusal::MalformedLink(why.to_string()),
        })?;
        let audit: BlindAudit = self
            .store
            .get_slot(&run, &Slot::Audit)
            .await
            .map_err(|_| Refusal::Unavailable)?
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or(Refusal::NotFound)?;
        if !audit.auditor.eq_ignore_ascii_case(&claims.reviewer) {
            return Err(Refusal::NotAReviewer);
        }
        Ok((audit, claims))
    }

    pub(super) async fn show_audit(&self, req: &HttpRequest) -> Result<Reply, Refusal> {
        let (audit, claims) = self.open_audit(req).await?;
        let event = self
            .store
            .get_event(&audit.run_id)
            .await
            .map_err(|_| Refusal::Unavailable)?;
        let labels = self
            .catalog
            .get(&audit.workflow)
            .and_then(|w| w.spec.reason.primary())
            .map(|(_, task)| {
                task.labels
                    .iter()
                    .map(|l| (l.name.clone(), l.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let sig = req.query.get("sig").map_or("", String::as_str);
        let answered = audit.verdict.as_ref().map(|v| v.label.as_str());
        let page = pages::audit::render(&AuditView {
            workflow: &audit.workflow,
            auditor: &claims.reviewer,
            received_at: event
                .as_ref()
                .map(|e| e.received_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            subject: event.as_ref().and_then(|e| e.field_str("subject")),
            text: event.as_ref().and_then(|e| e.field_str("text")),
            labels,
            answered,
            form_action: format!(
                "?r={}&exp={}&sig={}",
                urlencoding::encode(&claims.reviewer),
                claims.expires,
                urlencoding::encode(sig)
            ),
        });
        let mut reply = Reply::new(
            200,
            "open",
            "Blind audit",
            "Label the message as you would.",
        )
        .with("answered", serde_json::json!(answered.is_some()));
        reply.page = Some(page);
        Ok(reply)
    }

    pub(super) async fn answer_audit(&self, req: &HttpRequest) -> Result<Reply, Refusal> {
        let (audit, _) = self.open_audit(req).await?;
        let label = parse_submission(req)?
            .label
            .map(|l| l.trim().to_string())
            .unwrap_or_default();
        let workflow = self.catalog.get(&audit.workflow).ok_or(Refusal::NotFound)?;
        match blind_audit::record_verdict(
            self.store.as_ref(),
            self.clock.now(),
            workflow,
            audit,
            &label,
        )
        .await
        {
            Ok(feedback) => Ok(Reply::new(
                200,
                "recorded",
                "Thank you",
                "Your label is recorded. It counts as evidence for, or against, the AI acting alone on runs like this one.",
            )
            .with("label", serde_json::json!(feedback.final_label))),
            Err(AuditError::Answered) => Err(Refusal::AlreadyAnswered),
            Err(AuditError::Expired) => Err(Refusal::Expired),
            Err(AuditError::UnknownLabel(l)) => Err(Refusal::UnknownLabel(l)),
            Err(AuditError::Store(_)) => Err(Refusal::Unavailable),
        }
    }
}
