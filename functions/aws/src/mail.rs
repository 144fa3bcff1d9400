//! The seam between the action sink and an e-mail transport, so the HTTP
//! sink can deliver `email` actions without depending on SES itself.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send_mail(&self, to: &str, subject: &str, text: &str) -> Result<(), MailError>;
}
