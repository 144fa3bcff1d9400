//! Queue → one execution per run, named by the run id.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tracing::info;

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
