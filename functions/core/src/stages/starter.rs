//! Queue → one execution per run, named by the run id.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use serde_json::json;
use tracing::{error, info, Instrument};

use crate::domain::*;
use crate::observe::emf::{Metric, MetricDoc};
use crate::ports::*;
use crate::stages::{audit, StageError};

pub struct Starter {
    pub store: Arc<dyn RunStore>,
    pub executions: Arc<dyn Executions>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
}

impl Starter {
    /// Starts a batch of queue messages (`(message id, body)`) concurrently;
    /// answers the ids of those not started, which the queue must deliver
    /// again: SQS's partial batch response, and locally the messages not
    /// deleted. One bad message fails alone.
    pub async fn start_batch(&self, messages: &[(String, String)]) -> Vec<String> {
        let starts = messages.iter().map(|(id, body)| async move {
            let reason = self.start_body(body).await.err()?;
            error!(message_id = %id, %reason, "run not started; the queue will redeliver");
            Some(id.clone())
        });
        join_all(starts).await.into_iter().flatten().collect()
    }

    async fn start_body(&self, body: &str) -> Result<Started, String> {
        let message: RunMessage =
            serde_json::from_str(body).map_err(|e| format!("not a run message: {e}"))?;
        let run_id = message.run_id.as_str();
        let span = tracing::info_span!(
            "stage",
            stage = Stage::Start.as_str(),
            run_id,
            workflow = %message.workflow,
            execution = run_id
        );
        self.start(&message)
            .instrument(span)
            .await
            .map_err(|e| e.to_string())
    }

    /// Safe to call again for the same message (SQS delivers at least once).
    pub async fn start(&self, message: &RunMessage) -> Result<Started, StageError> {
        let t0 = Instant::now();
        let run = super::run_of(self.store.as_ref(), &message.run_id).await?;
        if run.status != RunStatus::Received {
            info!(run_id = %run.id, status = %run.status, "already started");
            return Ok(Started::AlreadyStarted);
        }
        let input = json!({ "run_id": run.id, "workflow": run.workflow });
        let started = self.executions.start(run.id.as_str(), &input).await?;
        match self
            .store
            .transition(
                &run.id,
                &[RunStatus::Received],
                RunStatus::Running,
                Stage::Start,
                self.clock.now(),
            )
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        audit::finished(
            self.store.as_ref(),
            self.clock.as_ref(),
            &run.id,
            Stage::Start,
            t0,
            json!({ "execution": run.id, "new": started == Started::New }),
        )
        .await?;
        if started == Started::New {
            self.metrics.emit(
                MetricDoc::workflow(&run.workflow)
                    .count(Metric::RunsStarted)
                    .property("run_id", run.id.to_string()),
            );
        }
        Ok(started)
    }
}
