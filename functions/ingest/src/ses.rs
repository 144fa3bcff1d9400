//! Mail SES receiving hands over: its receipt rule stored the raw message in
//! the inbound bucket (S3 action), then invoked this function (Lambda
//! action, asynchronously) with the receipt.

use aws_lambda_events::ses::{SimpleEmailEvent, SimpleEmailReceipt};
use handoff_aws::s3::{MailboxError, S3Mailbox};
use handoff_core::domain::RunId;
use handoff_core::http::ApiError;
use handoff_core::stages::ingest::Ingest;
use handoff_core::trigger::{Authentication, Verdict};
use handoff_spec::Catalog;
use lambda_runtime::Error;
use serde_json::{json, Value};
use tracing::{info, warn};

/// The workflow whose inbox one of the message's recipients is, and SES's
/// verdicts on its sender.
pub fn route<'c>(
    catalog: &'c Catalog,
    receipt: &SimpleEmailReceipt,
) -> Option<(&'c str, Authentication)> {
    let workflow = receipt
        .recipients
        .iter()
        .find_map(|r| catalog.for_recipient(r))?;
    let verdict = |v: &aws_lambda_events::ses::SimpleEmailVerdict| {
        v.status
            .as_deref()
            .map_or(Verdict::None, Verdict::from_result)
    };
    let auth = Authentication {
        spf: verdict(&receipt.spf_verdict),
        dkim: verdict(&receipt.dkim_verdict),
        dmarc: verdict(&receipt.dmarc_verdict),
    };
    Some((workflow.name(), auth))
}

/// Each received message to its run. A message no workflow receives, or one
/// refused (too large, not a message, a refused attachment), is logged and
/// dropped: SES retrying would get the same answer. A store or queue
/// failure is an error, so the asynchronous invocation is retried.
pub async fn handle(
    stage: &Ingest,
    mailbox: &S3Mailbox,
    event: SimpleEmailEvent,
) -> Result<Value, Error> {
    let mut runs: Vec<RunId> = Vec::new();
    for record in event.records {
        let (mail, receipt) = (record.ses.mail, record.ses.receipt);
        let Some(message_id) = mail.message_id.as_deref() else {
            warn!("an SES record without a message id");
            continue;
        };
        let Some((workflow, auth)) = route(&stage.catalog, &receipt) else {
            warn!(message_id, "mail for no workflow's inbox, dropped");
            continue;
        };
        let raw = match mailbox.read(message_id).await {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                warn!(
                    message_id,
                    workflow, "the message is not in the inbound bucket"
                );
                continue;
            }
            Err(e @ (MailboxError::TooLarge { .. } | MailboxError::BadMessageId(_))) => {
                warn!(message_id, workflow, error = %e, "mail refused");
                continue;
            }
            Err(MailboxError::Store(e)) => return Err(e.into()),
        };
        match stage.accept_email(workflow, &raw, auth).await {
            Ok(accepted) => {
                info!(message_id, workflow, run_id = %accepted.run_id, duplicate = accepted.duplicate, "mail accepted");
                runs.push(accepted.run_id);
            }
            Err(refusal) if refusal.status() >= 500 => return Err(refusal.to_string().into()),
            Err(refusal) => {
                warn!(
                    message_id,
                    workflow,
                    status = refusal.status(),
                    error = refusal.code(),
                    "mail refused"
                );
            }
        }
    }
    Ok(json!({ "runs": runs }))
}
