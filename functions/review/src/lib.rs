//! The scheduled jobs that learn from reviewers: the weekly accuracy review
//! (every workflow's AI labels against its reviewers' labels, stored for
//! the dashboards) and the retraining of the embedded classifiers on new
//! corrections. EventBridge sends `{"job": "train"}` for the second; any
//! other event is the review.

use std::sync::Arc;

use handoff_aws::lambda::StageFailure;
use handoff_core::observe::review;
use handoff_core::ports::{Clock, Metrics, RunStore};
use handoff_core::stages::train::Train;
use handoff_core::stages::StageError;
use handoff_spec::Catalog;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

pub struct Reviewer {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub clock: Arc<dyn Clock>,
    /// How many days of reviewer decisions one review reads.
    pub days: i64,
    pub train: Train,
    pub metrics: Arc<dyn Metrics>,
}

pub async fn handle(reviewer: &Reviewer, event: LambdaEvent<Value>) -> Result<Value, StageFailure> {
    if event.payload.get("job").and_then(Value::as_str) == Some("train") {
        let trained = reviewer.train.run().await?;
        return Ok(json!({ "trained": trained }));
    }
    let workflows: Vec<_> = reviewer
        .catalog
        .names()
        .filter_map(|name| reviewer.catalog.get(name))
        .map(|w| w.as_ref())
        .collect();
    let reviews = review::run(
        reviewer.store.as_ref(),
        &workflows,
        reviewer.clock.now(),
        reviewer.days,
    )
    .await
    .map_err(StageError::from)?;
    for r in &reviews {
        for doc in review::autonomy_metrics(r) {
            reviewer.metrics.emit(doc);
        }
        tracing::info!(workflow = %r.workflow, reviewed = r.reviewed, kept = r.kept, "accuracy review stored");
    }
    Ok(json!({ "reviews": reviews }))
}
