//! E-mail through SES (v2): reviewer notifications ([`SesNotifier`]) and
//! `email` actions ([`SesMailer`], a [`Mailer`] for the action sink). Plain
//! text only: the one thing a reviewer needs is their own link.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use handoff_core::ports::{Notification, Notifier, NotifyError};

use crate::mail::{MailError, Mailer};

/// The environment variable naming the verified sender address.
pub const MAIL_FROM_ENV: &str = "HANDOFF_MAIL_FROM";

pub struct SesMailer {
    pub client: aws_sdk_sesv2::Client,
    /// A verified SES identity.
    pub from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    /// With the sender address from `HANDOFF_MAIL_FROM`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, crate::lambda::EnvError> {
        Ok(Self::new(
            aws_sdk_sesv2::Client::new(config),
            crate::lambda::env(MAIL_FROM_ENV)?,
        ))
    }
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send_mail(&self, to: &str, subject: &str, text: &str) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(utf8(subject)?)
            .body(Body::builder().text(utf8(text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| MailError(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

/// Sends each reviewer their notification by e-mail; the reviewer is the
/// address.
pub struct SesNotifier {
    pub mailer: Arc<SesMailer>,
}

impl SesNotifier {
    pub fn new(mailer: Arc<SesMailer>) -> Self {
        Self { mailer }
    }
}

/// The message body: the notification's text, then the reviewer's link on a
/// line of its own so mail clients make it clickable.
pub fn notification_text(notification: &Notification) -> String {
    format!(
        "{}\n\nReview and decide: {}\n\nThis link is yours alone; do not forward it.\n",
        notification.text.trim_end(),
        notification.link
    )
}

#[async_trait]
impl Notifier for SesNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), NotifyError> {
        self.mailer
            .send_mail(
                &notification.reviewer,
                &notification.subject,
                &notification_text(notification),
            )
            .await
            .map_err(|e| NotifyError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use handoff_core::domain::{ApprovalId, RunId};

    #[test]
    fn notification_body_ends_with_the_reviewers_link() {
        let text = notification_text(&Notification {
            run_id: RunId("run-1".into()),
            approval_id: ApprovalId("a1".into()),
            workflow: "support-triage".into(),
            reviewer: "ana@example.com".into(),
            subject: "Approval needed".into(),
            text: "Refund of 120 EUR\n".into(),
            link: "https://x.example/approvals/abc?sig=1".into(),
            shared_text: String::new(),
            claim_link: String::new(),
            reminder: false,
            private: false,
        });
        assert!(text.starts_with(
            "Refund of 120 EUR\n\nReview and decide: https://x.example/approvals/abc?sig=1\n"
        ));
    }
}
