//! Reviewer notifications on the channels a workflow's approval section
//! lists (`notify:`): e-mail through the runtime's own notifier, Slack and
//! signed webhooks as HTTP calls through the [`ActionSink`] port, so the
//! Lambda (reqwest) and the local runtime deliver them with the retries they
//! already give actions. Each message carries only its reviewer's link.

pub mod slack;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tracing::warn;

use handoff_spec::{Catalog, NotifyChannel};

use crate::ports::*;

pub struct ChannelNotifier {
    pub catalog: Arc<Catalog>,
    /// The `email` channel: SES in AWS, the console and outbox locally.
    pub email: Arc<dyn Notifier>,
    pub sink: Arc<dyn ActionSink>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
}

const DEFAULT_CHANNELS: &[NotifyChannel] = &[NotifyChannel::Email];

impl ChannelNotifier {
    fn channels(&self, workflow: &str) -> &[NotifyChannel] {
        self.catalog
            .get(workflow)
            .and_then(|w| w.spec.approval.as_ref())
            .map(|a| a.notify.as_slice())
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_CHANNELS)
    }

    async fn send(&self, channel: &NotifyChannel, n: &Notification) -> Result<(), NotifyError> {
        let (target, body, headers) = match channel {
            NotifyChannel::Email => return self.email.notify(n).await,
            NotifyChannel::Slack { webhook_secret } => {
                let url = self.secret(webhook_secret).await?.current;
                let mut headers = BTreeMap::new();
                headers.insert("content-type".into(), "application/json".into());
                (url, slack::message(n).to_string(), headers)
            }
            NotifyChannel::Webhook { url, secret } => {
                let secret = self.secret(secret).await?;
                let body = webhook::body(n).to_string();
                let mut headers = BTreeMap::new();
                crate::stages::act::sign_outbound(
                    &mut headers,
                    &secret,
                    self.clock.now().timestamp(),
                    &body,
                );
                (url.clone(), body, headers)
            }
        };
        let kind = channel.kind();
        let what = if n.reminder { "remind" } else { "notify" };
        let idempotency_key = format!(
            "{}:{what}:{}:{kind}:{}",
            n.run_id, n.approval_id, n.reviewer
        );
        let mut headers = headers;
        headers.insert("idempotency-key".into(), idempotency_key.clone());
        let request = ActionRequest {
            run_id: n.run_id.to_string(),
            action: format!("notify {}", n.reviewer),
            kind: kind.to_string(),
            idempotency_key,
            method: "POST".into(),
            target,
            headers,
            body,
            subject: None,
        };
        self.sink
            .perform(&request, None)
            .await
            .map(|_| ())
            .map_err(|e| NotifyError(format!("{kind}: {e}")))
    }

    async fn secret(&self, name: &str) -> Result<Secret, NotifyError> {
        self.secrets
            .get(name)
            .await
            .map_err(|e| NotifyError(e.to_string()))
    }
}

#[async_trait]
impl Notifier for ChannelNotifier {
    /// Tries every channel. The reviewer counts as notified when one
    /// reached them; a channel that failed is logged, and fails the call
    /// only when no channel got through.
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if n.private {
            return self.email.notify(n).await;
        }
        let mut failed = Vec::new();
        let channels = self.channels(&n.workflow);
        for channel in channels {
            if let Err(e) = self.send(channel, n).await {
                warn!(run_id = %n.run_id, reviewer = %n.reviewer, channel = channel.kind(), error = %e, "notification channel failed");
                failed.push(e.0);
            }
        }
        if failed.len() == channels.len() {
            Err(NotifyError(failed.join("; ")))
        } else {
            Ok(())
        }
    }
}
