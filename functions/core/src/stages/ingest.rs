//! `POST /webhooks/{workflow}`: verify, normalise, de-duplicate, store, enqueue.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use tracing::{info, info_span, warn, Instrument};

use handoff_spec::Catalog;

use crate::domain::*;
use crate::http::{ApiError, HttpRequest, HttpResponse};
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::*;
use crate::stages::linked_documents::{fetch_linked, FetchRefusal};
use crate::trigger::{self, BodyError, MappingError, SignatureError};
use handoff_documents::Refused as DocumentRefused;

/// Senders retry for up to three days (Stripe); the dedupe record outlives that.
pub const DEDUPE_RETENTION: Duration = Duration::days(4);

/// How long the first attempt at a delivery may still be on its way from
/// storing the run to enqueueing it. Past the function's timeout (30 s, most
/// of it for fetching linked documents, which happens before the run is
/// stored) it has either enqueued or died; before, a duplicate must not enqueue again,
/// or ten concurrent copies of one delivery would queue ten messages.
pub const INTAKE_IN_FLIGHT: Duration = Duration::seconds(40);

/// A run still `RECEIVED` this long after it was stored lost its queue
/// message (the send failed after the store write, or the process died in
/// between): the sweep queues it again. Well past the in-flight window and
/// any queue backlog worth waiting for; a second message is harmless anyway
/// (the execution name is the run id).
pub const STALLED_AFTER: Duration = Duration::minutes(5);
/// At most this many stalled runs per sweep; the next sweep takes the rest.
const SWEEP_LIMIT: usize = 500;

/// A webhook taken in: the run it started, or the run an earlier delivery
/// of it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub run_id: RunId,
    pub duplicate: bool,
}

impl Accepted {
    /// 202 for a new run, 200 for a duplicate: `{run_id, duplicate}`.
    fn response(&self) -> HttpResponse {
        let status = if self.duplicate { 200 } else { 202 };
        HttpResponse::json(
            status,
            &json!({ "run_id": self.run_id, "duplicate": self.duplicate }),
        )
    }
}

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("webhooks are POSTed")]
    MethodNotAllowed,
    #[error("no workflow named `{0}`")]
    UnknownWorkflow(String),
    #[error("body is {0} bytes; the limit is {1}")]
    TooLarge(usize, usize),
    #[error("workflow `{0}` takes no e-mail")]
    NoEmail(String),
    #[error("the webhook secret could not be read; retry later")]
    SecretUnavailable,
    #[error(transparent)]
    ContentType(BodyError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Body(BodyError),
    #[error(transparent)]
    Field(#[from] MappingError),
    /// The sender's file name is not repeated: it is theirs to know.
    #[error("document {index}: {refused}")]
    Document {
        index: usize,
        refused: DocumentRefused,
    },
    #[error(transparent)]
    Linked(#[from] FetchRefusal),
    #[error("the run could not be stored; retry later")]
    Unavailable,
}

impl ApiError for Refusal {
    fn status(&self) -> u16 {
        match self {
            Refusal::MethodNotAllowed => 405,
            Refusal::UnknownWorkflow(_) => 404,
            Refusal::TooLarge(..) => 413,
            Refusal::NoEmail(_) => 415,
            Refusal::Document { refused, .. } => {
                match refused {
                    DocumentRefused::TooLarge { .. }
                    | DocumentRefused::TooLargeWhenInflated { .. } => 413,
                    DocumentRefused::UnsupportedType { .. }
                    | DocumentRefused::TypeMismatch { .. } => 415,
                    _ => 422,
                }
            }
            Refusal::ContentType(_) => 415,
            Refusal::Signature(_) => 401,
            Refusal::Body(BodyError::DocumentTooLarge { .. }) => 413,
            Refusal::Body(_) => 400,
            Refusal::Linked(refusal) => match refusal {
                FetchRefusal::Refused { .. } => 422,
                FetchRefusal::TooLarge { .. } => 413,
                // The sender's retry may find it.
                FetchRefusal::Unreachable { .. } => 502,
                FetchRefusal::SecretUnavailable => 503,
            },
            Refusal::Field(_) => 422,
            Refusal::SecretUnavailable | Refusal::Unavailable => 503,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::UnknownWorkflow(_) => "unknown_workflow",
            Refusal::TooLarge(..) => "payload_too_large",
            Refusal::NoEmail(_) => "unsupported_media_type",
            Refusal::Document { refused, .. } => match refused {
                DocumentRefused::TooLarge { .. } => "document_too_large",
                DocumentRefused::TooLargeWhenInflated { .. } => "document_inflates_too_large",
                DocumentRefused::UnsupportedType { .. } => "document_type_unsupported",
                DocumentRefused::TypeMismatch { .. } => "document_type_mismatch",
                DocumentRefused::TooManyPages { .. } => "document_too_many_pages",
                DocumentRefused::Encrypted => "document_encrypted",
                DocumentRefused::Malformed(_) => "document_malformed",
            },
            Refusal::SecretUnavailable => "secret_unavailable",
            Refusal::ContentType(_) => "unsupported_media_type",
            Refusal::Signature(e) => e.code(),
            Refusal::Body(e) => e.code(),
            Refusal::Linked(refusal) => match refusal {
                FetchRefusal::Refused { .. } => "document_link_refused",
                FetchRefusal::TooLarge { .. } => "document_too_large",
                FetchRefusal::Unreachable { .. } => "document_unreachable",
                FetchRefusal::SecretUnavailable => "secret_unavailable",
            },
            Refusal::Field(_) => "missing_field",
            Refusal::Unavailable => "unavailable",
        }
    }
}

pub struct Ingest {
    pub catalog: Arc<Catalog>,
    /// Stores and queues each new run, and queues again one whose first
    /// attempt was abandoned.
    pub intake: Arc<dyn RunIntake>,
    /// Reads the runs a requeue is for.
    pub store: Arc<dyn RunStore>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
    /// Where the documents that come with a delivery are kept.
    pub documents: Arc<dyn DocumentStore>,
    /// Fetches the documents a delivery links to.
    pub fetcher: Arc<dyn Fetcher>,
}

impl Ingest {
    pub async fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let workflow = req
            .path_params
            .get("workflow")
            .map(String::as_str)
            .unwrap_or_default();
        let span = info_span!("ingest", workflow);
        match self.accept(req).instrument(span.clone()).await {
            Ok(accepted) => accepted.response(),
            Err(refusal) => {
                // The status and the stable code only: never the body, a
                // header or the message (which may quote the input).
                span.in_scope(|| {
                    info!(
                        status = refusal.status(),
                        error = refusal.code(),
                        "webhook refused"
                    )
                });
                refusal.response()
            }
        }
    }

    async fn accept(&self, req: &HttpRequest) -> Result<Accepted, Refusal> {
        if req.method != "POST" {
            return Err(Refusal::MethodNotAllowed);
        }
        let name = req
            .path_params
            .get("workflow")
            .map(String::as_str)
            .unwrap_or_default();
        let workflow = self
            .catalog
            .get(name)
            .ok_or_else(|| Refusal::UnknownWorkflow(name.to_string()))?;
        let trigger_spec = &workflow.spec.trigger;
        let limit = trigger::max_body_bytes(trigger_spec);
        if req.body.len() > limit {
            return Err(Refusal::TooLarge(req.body.len(), limit));
        }
        let secret = self
            .secrets
            .get(&trigger_spec.signature.secret)
            .await
            .map_err(|e| {
                warn!(workflow = name, error = %e, "webhook secret unavailable");
                Refusal::SecretUnavailable
            })?;
        let content_type = req.header("content-type");
        trigger::check_content_type(trigger_spec, content_type).map_err(Refusal::ContentType)?;
        trigger::verify(&trigger_spec.signature, &secret, req, self.clock.now())?;
        let mut parsed =
            trigger::parse_body(trigger_spec, content_type, &req.body).map_err(Refusal::Body)?;
        let linked = std::mem::take(&mut parsed.linked);
        if !linked.is_empty() {
            let spec = trigger::documents_spec(trigger_spec);
            let fetched =
                fetch_linked(self.fetcher.as_ref(), self.secrets.as_ref(), &spec, linked).await?;
            parsed.attachments.extend(fetched);
        }
        let email = trigger::is_email(content_type);
        self.take_in(name, trigger_spec, req, parsed, email).await
    }

    /// An e-mail SES received for the workflow (AWS). No signature: SES
    /// invokes the function itself, and its receipt's SPF, DKIM and DMARC
    /// verdicts are `auth`.
    pub async fn accept_email(
        &self,
        name: &str,
        raw: &[u8],
        auth: trigger::Authentication,
    ) -> Result<Accepted, Refusal> {
        let workflow = self
            .catalog
            .get(name)
            .ok_or_else(|| Refusal::UnknownWorkflow(name.to_string()))?;
        let trigger_spec = &workflow.spec.trigger;
        if trigger_spec.email.is_none() {
            return Err(Refusal::NoEmail(name.to_string()));
        }
        if raw.len() > trigger::MAX_RECEIVED_MAIL_BYTES {
            return Err(Refusal::TooLarge(
                raw.len(),
                trigger::MAX_RECEIVED_MAIL_BYTES,
            ));
        }
        let email = trigger::parse_email(raw, auth, &trigger::documents_spec(trigger_spec))
            .map_err(Refusal::Body)?;
        let req = HttpRequest {
            method: "POST".into(),
            body: raw.to_vec(),
            ..HttpRequest::default()
        };
        let parsed = trigger::ParsedBody {
            payload: email.payload,
            attachments: email.attachments,
            linked: Vec::new(),
        };
        self.take_in(name, trigger_spec, &req, parsed, true).await
    }

    /// A verified delivery becomes a run: its fields mapped, its documents
    /// checked and stored, then the run stored and queued once.
    async fn take_in(
        &self,
        name: &str,
        trigger_spec: &handoff_spec::TriggerSpec,
        req: &HttpRequest,
        parsed: trigger::ParsedBody,
        email: bool,
    ) -> Result<Accepted, Refusal> {
        let now = self.clock.now();
        let trigger::ParsedBody {
            payload,
            attachments,
            ..
        } = parsed;
        let fields = trigger::map_fields(trigger_spec, &payload)?;
        let delivery_id = match payload_message_id(email, &payload) {
            Some(id) => id,
            None => trigger::delivery_id(trigger_spec, req, &payload),
        };
        // Every document is checked before any is stored: a refused
        // delivery leaves nothing behind. Parsing a PDF is CPU work; off
        // the threads that serve other requests.
        let documents = if attachments.is_empty() {
            Vec::new()
        } else {
            let spec = trigger::documents_spec(trigger_spec);
            tokio::task::spawn_blocking(move || checked_documents(&spec, attachments))
                .await
                .map_err(|e| {
                    warn!(workflow = name, error = %e, "checking documents panicked");
                    Refusal::Unavailable
                })??
        };
        let unavailable = |e: &dyn std::fmt::Display| {
            warn!(workflow = name, error = %e, "intake failed");
            Refusal::Unavailable
        };
        for (doc, bytes) in &documents {
            self.documents
                .put(name, doc, bytes)
                .await
                .map_err(|e| unavailable(&e))?;
        }

        let run = Run::received(RunId::new(), name, &delivery_id, &fields, now);
        let event = CanonicalEvent {
            workflow: name.to_string(),
            delivery_id: delivery_id.clone(),
            received_at: now,
            fields,
            payload,
            documents: documents.into_iter().map(|(doc, _)| doc).collect(),
        };
        let business_key = trigger_spec.dedupe.as_ref().and_then(|d| {
            let key = business_key(&event.fields, &d.business_key);
            if key.is_none() {
                info!(
                    workflow = name,
                    "business key fields missing; deduplicated by delivery id and body only"
                );
            }
            key
        });
        let dedupe = DedupeKey {
            workflow: name.to_string(),
            delivery_id,
            expires_at: now + DEDUPE_RETENTION,
            body_hash: Some(sha256_tag(&req.body)),
            business_key,
        };
        match self
            .intake
            .accept(
                &run,
                &event,
                &dedupe,
                &AuditEvent::received(&run, req.body.len()),
            )
            .await
            .map_err(|e| unavailable(&e))?
        {
            Created::Duplicate(existing) => {
                info!(workflow = name, run_id = %existing, "duplicate delivery");
                self.metrics.emit(
                    MetricDoc::workflow(name)
                        .count(Metric::DedupeHits)
                        .property("run_id", existing.to_string()),
                );
                self.requeue_if_abandoned(&existing, name, now)
                    .await
                    .map_err(|e| unavailable(&e))?;
                Ok(Accepted {
                    run_id: existing,
                    duplicate: true,
                })
            }
            Created::New => {
                info!(workflow = name, run_id = %run.id, "run accepted");
                self.metrics.emit(
                    MetricDoc::workflow(name)
                        .count(Metric::RunsReceived)
                        .property("run_id", run.id.to_string()),
                );
                Ok(Accepted {
                    run_id: run.id,
                    duplicate: false,
                })
            }
        }
    }

    /// Queues again every run stored at least [`STALLED_AFTER`] ago that
    /// never started, so no run waits on a sender retrying (or never does).
    /// AWS: a schedule on the ingest function; locally a timer. Answers how
    /// many runs were queued again.
    pub async fn requeue_stalled(&self) -> Result<usize, StageError> {
        let now = self.clock.now();
        let mut requeued = 0;
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_runs(&RunQuery {
                    status: Some(RunStatus::Received),
                    limit: 100,
                    cursor,
                    ..RunQuery::default()
                })
                .await?;
            for run in page
                .items
                .iter()
                .filter(|r| now - r.created_at >= STALLED_AFTER)
            {
                self.intake
                    .requeue(&RunMessage {
                        run_id: run.id.clone(),
                        workflow: run.workflow.clone(),
                    })
                    .await?;
                crate::stages::audit::record(
                    self.store.as_ref(),
                    self.clock.as_ref(),
                    &run.id,
                    Stage::Ingest,
                    "run.requeued",
                    json!({ "received_at": run.created_at }),
                )
                .await?;
                requeued += 1;
            }
            match page.next {
                Some(next) if requeued < SWEEP_LIMIT => cursor = Some(next),
                _ => break,
            }
        }
        if requeued > 0 {
            warn!(requeued, "runs that never started were queued again");
        }
        Ok(requeued)
    }

    /// A sender retries when we answered 5xx after storing but before
    /// enqueueing; the retry is a duplicate and must still get the run going,
    /// once the first attempt can no longer be in flight. Enqueueing twice
    /// is harmless all the same: the execution name is the run id.
    async fn requeue_if_abandoned(
        &self,
        id: &RunId,
        workflow: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StageError> {
        if let Some(run) = self.store.get_run(id).await? {
            if run.status == RunStatus::Received && now - run.created_at > INTAKE_IN_FLIGHT {
                let message = RunMessage {
                    run_id: id.clone(),
                    workflow: workflow.to_string(),
                };
                self.intake.requeue(&message).await?;
            }
        }
        Ok(())
    }
}

use crate::stages::StageError;

/// Each attachment sniffed, limited and hashed: its reference and bytes, or
/// the first refusal.
fn checked_documents(
    spec: &handoff_spec::DocumentIntakeSpec,
    attachments: Vec<trigger::Attachment>,
) -> Result<Vec<(DocumentRef, Vec<u8>)>, Refusal> {
    let limits = handoff_documents::Limits {
        max_bytes: spec.max_bytes,
        ..handoff_documents::Limits::default()
    };
    attachments
        .into_iter()
        .enumerate()
        .map(|(index, attachment)| {
            let refuse = |refused| Refusal::Document { index, refused };
            let media_type = handoff_documents::check(
                &attachment.bytes,
                attachment.declared_type.as_deref(),
                &limits,
            )
            .map_err(refuse)?;
            if !spec.types.iter().any(|t| t == media_type.extension()) {
                return Err(refuse(DocumentRefused::UnsupportedType {
                    sniffed: Some(media_type.mime()),
                }));
            }
            let doc = DocumentRef {
                sha256: sha256_tag(&attachment.bytes),
                name: attachment.name,
                media_type: media_type.mime().to_string(),
                bytes: attachment.bytes.len(),
            };
            Ok((doc, attachment.bytes))
        })
        .collect()
}

/// An e-mail's delivery id is its Message-ID (a relay or SES delivering it
/// again sends the same one); hashed when long, like any delivery id.
fn payload_message_id(email: bool, payload: &serde_json::Value) -> Option<String> {
    let id = payload["message_id"]
        .as_str()
        .map(str::trim)
        .filter(|id| !id.is_empty())?;
    email.then(|| {
        if id.len() <= trigger::MAX_DELIVERY_ID_BYTES {
            id.to_string()
        } else {
            sha256_tag(id.as_bytes())
        }
    })
}
