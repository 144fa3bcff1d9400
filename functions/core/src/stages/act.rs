//! Performs the decided actions, each once: a completed action is recorded
//! under its idempotency key and skipped when the stage runs again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use handoff_spec::{Catalog, Connector};

use crate::domain::*;
use crate::ports::*;
use crate::stages::{audit, render, StageError};
use crate::trigger::hmac_hex;

pub struct Act {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub sink: Arc<dyn ActionSink>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    /// Dry-run every workflow, whatever its spec says (`handoff up --dry-run`).
    pub dry_run: bool,
}

impl Act {
    /// A act-stage entry in the run's audit trail.
    async fn audit(&self, run_id: &RunId, kind: &str, detail: Value) -> Result<(), StoreError> {
        let (log, clock) = (self.store.as_ref(), self.clock.as_ref());
        audit::record(log, clock, run_id, Stage::Act, kind, detail).await
    }

    pub async fn run(&self, input: &RunRef) -> Result<Value, StageError> {
        self.run_until(input, None).await
    }

    /// [`Act::run`] inside an invocation that ends at `deadline`: each
    /// action's retries are budgeted to finish, and be recorded, before it.
    pub async fn run_until(
        &self,
        input: &RunRef,
        deadline: Option<Instant>,
    ) -> Result<Value, StageError> {
        let t0 = Instant::now();
        let run_id = &input.run_id;
        let workflow = super::workflow(&self.catalog, &input.workflow)?;
        let event = super::event_of(self.store.as_ref(), run_id).await?;
        let decision = self
            .store
            .get_slot(run_id, &Slot::Decision)
            .await?
            .unwrap_or(Value::Null);
        let decided: Decision = serde_json::from_value(decision.clone())
            .map_err(|e| StageError::Invalid(format!("no decision: {e}")))?;
        let context = self
            .store
            .get_slot(run_id, &Slot::Context)
            .await?
            .unwrap_or(json!({}));
        let mut ai = self
            .store
            .get_slot(run_id, &Slot::Ai)
            .await?
            .unwrap_or(json!({}));
        apply_reviewer_edits(self.store.as_ref(), run_id, &workflow.spec.reason, &mut ai).await?;
        let recipients = Recipients {
            outbound: &workflow.spec.outbound,
            reviewer_approved: reviewer_approved(self.store.as_ref(), run_id).await?,
        };
        let data = render::template_data(run_id, &event, &context, &ai, &decision);

        let dry_run = self.dry_run || workflow.spec.dry_run;
        let mut performed = Vec::new();
        let mut skipped = Vec::new();
        let mut rehearsed = Vec::new();
        for name in &decided.actions {
            let slot = Slot::Action(name.clone());
            if let Some(done) = self.store.get_slot(run_id, &slot).await? {
                if done.get("succeeded") == Some(&Value::Bool(true)) {
                    skipped.push(name.clone());
                    continue;
                }
            }
            let spec = workflow
                .action(name)
                .ok_or_else(|| StageError::Invalid(format!("unknown action `{name}`")))?;
            let request = self
                .build_request(run_id, name, &spec.connector, &data, &recipients)
                .await?;
            if dry_run {
                self.record_dry_run(run_id, &slot, &request).await?;
                rehearsed.push(name.clone());
                continue;
            }
            let result = self.sink.perform(&request, deadline).await;
            let record = ActionRecord {
                name: name.clone(),
                kind: request.kind.clone(),
                idempotency_key: request.idempotency_key.clone(),
                succeeded: result.is_ok(),
                attempts: match &result {
                    Ok(d) => d.attempts,
                    Err(
                        ActionError::Rejected { attempts, .. }
                        | ActionError::Exhausted { attempts, .. },
                    ) => *attempts,
                },
                status_code: match &result {
                    Ok(d) => d.status_code,
                    Err(ActionError::Rejected { status, .. }) => Some(*status),
                    Err(_) => None,
                },
                response_excerpt: match &result {
                    Ok(d) => d.response_excerpt.clone(),
                    Err(e) => Some(e.to_string()),
                },
                at: self.clock.now(),
                dry_run: false,
            };
            let record_json = serde_json::to_value(&record).expect("records serialise");
            self.store.put_slot(run_id, &slot, &record_json).await?;
            self.audit(run_id, "action.performed", record_json).await?;
            result.map_err(|source| StageError::Action {
                action: name.clone(),
                source,
            })?;
            performed.push(name.clone());
        }
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            run_id,
            Stage::Act,
            t0,
            json!({ "performed": performed, "skipped": skipped, "dry_run": rehearsed }),
        )
        .await?;
        Ok(json!({
            "performed": performed.len(),
            "skipped": skipped.len(),
            "dry_run": rehearsed.len(),
        }))
    }

    /// What would have been sent, in the audit trail; nothing leaves.
    async fn record_dry_run(
        &self,
        run_id: &RunId,
        slot: &Slot,
        request: &ActionRequest,
    ) -> Result<(), StageError> {
        let record = ActionRecord {
            name: request.action.clone(),
            kind: request.kind.clone(),
            idempotency_key: request.idempotency_key.clone(),
            succeeded: false,
            attempts: 0,
            status_code: None,
            response_excerpt: Some("dry run: not sent".into()),
            at: self.clock.now(),
            dry_run: true,
        };
        let record_json = serde_json::to_value(&record).expect("records serialise");
        self.store.put_slot(run_id, slot, &record_json).await?;
        self.audit(
            run_id,
            "action.dry_run",
            json!({
                "name": request.action,
                "kind": request.kind,
                "idempotency_key": request.idempotency_key,
                "method": request.method,
                "target": request.target,
                "subject": request.subject,
                "body": request.body,
            }),
        )
        .await?;
        Ok(())
    }

    async fn build_request(
        &self,
        run_id: &RunId,
        name: &str,
        connector: &Connector,
        data: &Value,
        recipients: &Recipients<'_>,
    ) -> Result<ActionRequest, StageError> {
        let at = |field: &str| format!("actions.{name}.{field}");
        let idempotency_key = format!("{run_id}:{name}");
        let mut headers = BTreeMap::new();
        headers.insert("idempotency-key".to_string(), idempotency_key.clone());
        let (method, target, body, subject) = match connector {
            Connector::Webhook { url, secret, body } => {
                let body = render::render(&at("body"), body, data)?;
                let secret = self.secrets.get(secret).await?;
                sign_outbound(&mut headers, &secret, self.clock.now().timestamp(), &body);
                (
                    "POST".to_string(),
                    render::render_url(&at("url"), url, data)?,
                    body,
                    None,
                )
            }
            Connector::Slack {
                webhook_secret,
                text,
            } => {
                let text = render::render_slack(&at("text"), text, data)?;
                headers.insert("content-type".into(), "application/json".into());
                let body = json!({ "text": text }).to_string();
                // The URL is a credential: from the secret, never templated.
                let url = self.secrets.get(webhook_secret).await?.current;
                ("POST".to_string(), url, body, None)
            }
            Connector::Email { to, subject, body } => (
                "SEND".to_string(),
                recipients.check(&at("to"), to, render::render_header(&at("to"), to, data)?)?,
                render::render(&at("body"), body, data)?,
                Some(render::render(&at("subject"), subject, data)?),
            ),
            Connector::Http {
                method,
                url,
                headers: extra,
                body,
            } => {
                for (k, v) in extra {
                    headers.insert(
                        k.to_ascii_lowercase(),
                        render::render_header(&at(&format!("headers.{k}")), v, data)?,
                    );
                }
                (
                    method.clone(),
                    render::render_url(&at("url"), url, data)?,
                    render::render(&at("body"), body, data)?,
                    None,
                )
            }
        };
        Ok(ActionRequest {
            run_id: run_id.to_string(),
            action: name.to_string(),
            kind: connector.kind().to_string(),
            idempotency_key,
            method,
            target,
            headers,
            body,
            subject,
        })
    }
}

/// Who an e-mail action may reach. A `to` the spec writes out is the
/// author's; one rendered from the run's data goes out only if a reviewer
/// approved the run or `outbound.allowed_recipients` lists it (the spec
/// validator requires one of the two).
struct Recipients<'a> {
    outbound: &'a handoff_spec::OutboundSpec,
    reviewer_approved: bool,
}

impl Recipients<'_> {
    fn check(&self, what: &str, template: &str, to: String) -> Result<String, StageError> {
        if !handoff_spec::has_template(template) || self.reviewer_approved {
            return Ok(to);
        }
        if self.outbound.allows_recipient(&to) {
            return Ok(to);
        }
        Err(StageError::Invalid(format!(
            "{what}: `{to}` comes from the run's data, no reviewer approved the run, and outbound.allowed_recipients does not list it"
        )))
    }
}

/// A person approved the run (an approve-on-timeout policy is not one).
async fn reviewer_approved(store: &dyn RunStore, run_id: &RunId) -> Result<bool, StageError> {
    Ok(store.approvals_of_run(run_id).await?.iter().any(|a| {
        a.status == ApprovalStatus::Approved
            && a.votes.iter().any(|v| v.verdict == Verdict::Approve)
    }))
}

/// Signs an outbound JSON body the way every handoff webhook is signed:
/// `x-handoff-signature: v1=HMAC-SHA256(secret, "{timestamp}.{body}")` beside
/// `x-handoff-timestamp`, so receivers can refuse replays.
pub fn sign_outbound(
    headers: &mut BTreeMap<String, String>,
    secret: &Secret,
    timestamp: i64,
    body: &str,
) {
    let signed = format!("{timestamp}.{body}");
    headers.insert("content-type".into(), "application/json".into());
    headers.insert("x-handoff-timestamp".into(), timestamp.to_string());
    headers.insert(
        "x-handoff-signature".into(),
        format!("v1={}", hmac_hex(&secret.current, signed.as_bytes())),
    );
}

/// A reviewer may have edited the draft or the extracted fields on the
/// approval page, or relabelled the run; actions carry the edited version:
/// the first draft task's text, each extract task's corrected fields
/// (`{"fields": {"<task>": {…}}}`), the primary classify task's label.
async fn apply_reviewer_edits(
    store: &dyn RunStore,
    run_id: &RunId,
    reason: &handoff_spec::ReasonSpec,
    ai: &mut Value,
) -> Result<(), StageError> {
    let approvals = store.approvals_of_run(run_id).await?;
    let edits = approvals
        .iter()
        .filter(|a| a.status == ApprovalStatus::Approved)
        .flat_map(|a| a.votes.iter())
        .filter(|v| v.verdict == Verdict::Approve)
        .filter_map(|v| v.edits.as_ref())
        .next_back();
    let Some(Value::Object(edits)) = edits else {
        return Ok(());
    };
    if let Some(Value::Object(tasks)) = edits.get("fields") {
        for (task, fields) in tasks {
            if let (Some(Value::Object(result)), Value::Object(fields)) = (
                ai.as_object_mut().map(|ai| {
                    ai.entry(task.clone())
                        .or_insert_with(|| Value::Object(Default::default()))
                }),
                fields,
            ) {
                lay_over(result, fields);
            }
        }
    }
    let mut set = |task: Option<&str>, key: Option<&str>, value: &Value| {
        let Some(task) = task else { return };
        let Some(Value::Object(result)) = ai.get_mut(task) else {
            return;
        };
        match (key, value) {
            (Some(key), value) => {
                result.insert(key.to_string(), value.clone());
            }
            (None, Value::Object(fields)) => {
                for (k, v) in fields {
                    result.insert(k.clone(), v.clone());
                }
            }
            _ => {}
        }
    };
    if let Some(draft) = edits.get("draft") {
        set(
            reason.first_draft().map(|t| t.name.as_str()),
            Some("text"),
            draft,
        );
    }
    if let Some(label) = edits.get("label") {
        set(
            reason.primary().map(|(t, _)| t.name.as_str()),
            Some("label"),
            label,
        );
    }
    Ok(())
}
