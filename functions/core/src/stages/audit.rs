use std::time::Instant;

use serde_json::{json, Value};

use crate::domain::{AuditEvent, RunId, Stage};
use crate::ports::{AuditLog, Clock, StoreError};

/// Appends `<stage>.finished` with the stage's own detail and its duration.
pub async fn finished(
    log: &dyn AuditLog,
    clock: &dyn Clock,
    run: &RunId,
    stage: Stage,
    started: Instant,
    mut detail: Value,
) -> Result<(), StoreError> {
    if let Value::Object(map) = &mut detail {
        map.insert(
            "duration_ms".into(),
            json!(started.elapsed().as_secs_f64() * 1000.0),
        );
    }
    log.append(&AuditEvent::new(
        run,
        clock.now(),
        stage,
        &format!("{stage}.finished"),
        detail,
    ))
    .await
}

pub async fn record(
    log: &dyn AuditLog,
    clock: &dyn Clock,
    run: &RunId,
    stage: Stage,
    kind: &str,
    detail: Value,
) -> Result<(), StoreError> {
    log.append(&AuditEvent::new(run, clock.now(), stage, kind, detail))
        .await
}
