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
use crate::trigger::{self, BodyError, MappingError, SignatureError, MAX_BODY_BYTES};

/// Senders retry for up to three days (Stripe); the dedupe record outlives that.
pub const DEDUPE_RETENTION: Duration = Duration::days(4);

/// How long the first attempt at a delivery may still be on its way from
/// storing the run to enqueueing it. Past the function's timeout (10 s) it
/// has either enqueued or died; before, a duplicate must not enqueue again,
/// or ten concurrent copies of one delivery would queue ten messages.
pub const INTAKE_IN_FLIGHT: Duration = Duration::seconds(30);

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
    #[error("body is {0} bytes; the limit is {MAX_BODY_BYTES}")]
    TooLarge(usize),
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
    #[error("the run could not be stored; retry later")]
    Unavailable,
}

impl ApiError for Refusal {
    fn status(&self) -> u16 {
        match self {
            Refusal::MethodNotAllowed => 405,
            Refusal::UnknownWorkflow(_) => 404,
            Refusal::TooLarge(_) => 413,
            Refusal::ContentType(_) => 415,
            Refusal::Signature(_) => 401,
            Refusal::Body(_) => 400,
            Refusal::Field(_) => 422,
            Refusal::SecretUnavailable | Refusal::Unavailable => 503,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::UnknownWorkflow(_) => "unknown_workflow",
            Refusal::TooLarge(_) => "payload_too_large",
            Refusal::SecretUnavailable => "secret_unavailable",
            Refusal::ContentType(_) => "unsupported_media_type",
            Refusal::Signature(e) => e.code(),
            Refusal::Body(_) => "malformed_body",
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
        if req.body.len() > MAX_BODY_BYTES {
            return Err(Refusal::TooLarge(req.body.len()));
        }
        let trigger_spec = &workflow.spec.trigger;
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
        let now = self.clock.now();
        trigger::verify(&trigger_spec.signature, &secret, req, now)?;
        let payload = trigger::parse_body(trigger_spec, content_type, &req.body)
            .map_err(Refusal::Body)?
            .payload;
        let fields = trigger::map_fields(trigger_spec, &payload)?;
        let delivery_id = trigger::delivery_id(trigger_spec, req, &payload);

        let run = Run::received(RunId::new(), name, &delivery_id, &fields, now);
        let event = CanonicalEvent {
            workflow: name.to_string(),
            delivery_id: delivery_id.clone(),
            received_at: now,
            fields,
            payload,
            documents: Vec::new(),
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
        let unavailable = |e: &dyn std::fmt::Display| {
            warn!(workflow = name, error = %e, "intake failed");
            Refusal::Unavailable
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
