//! The logic of every stage, one module each. A stage is a struct holding
//! the ports it needs (built once per process) with one async entry point.

pub mod act;
pub mod approval;
pub mod audit;
pub mod blind_audit;
pub mod budget;
pub mod callback;
pub mod context;
pub mod correction;
pub mod decide;
pub mod delivery;
pub mod documents;
pub mod duplicate;
pub mod finalize;
pub mod ingest;
pub mod linked_documents;
pub mod lookup_http;
pub mod read;
pub mod reason;
pub mod redrive;
pub mod render;
pub mod run_detail;
pub mod shell;
pub mod starter;
pub mod train;

mod error;
pub use error::StageError;

use std::sync::Arc;

use handoff_spec::{Catalog, Workflow};

use crate::domain::{CanonicalEvent, Run, RunId, SummaryUpdate};
use crate::ports::{RunStore, StoreError};

/// The workflow a task names; unknown is a validation error Catch can match.
pub(crate) fn workflow<'a>(
    catalog: &'a Catalog,
    name: &str,
) -> Result<&'a Arc<Workflow>, StageError> {
    catalog
        .get(name)
        .ok_or_else(|| StageError::UnknownWorkflow(name.to_string()))
}

pub(crate) async fn run_of(store: &dyn RunStore, id: &RunId) -> Result<Run, StageError> {
    store
        .get_run(id)
        .await?
        .ok_or_else(|| StageError::RunNotFound(id.to_string()))
}

/// Sets a stage's fields of the run's summary, leaving the others.
pub(crate) async fn summarise(
    store: &dyn RunStore,
    id: &RunId,
    update: &SummaryUpdate,
) -> Result<(), StageError> {
    match store.update_summary(id, update).await {
        Err(StoreError::NotFound(_)) => Err(StageError::RunNotFound(id.to_string())),
        other => Ok(other?),
    }
}

pub(crate) async fn event_of(
    store: &dyn RunStore,
    id: &RunId,
) -> Result<CanonicalEvent, StageError> {
    store
        .get_event(id)
        .await?
        .ok_or_else(|| StageError::RunNotFound(id.to_string()))
}
