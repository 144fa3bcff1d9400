use crate::observe::emf::MetricDoc;

/// Where metric documents go: stdout as EMF in Lambda, nowhere locally (the
/// local runtime computes its figures from the run store), a list in tests.
/// Emitting never fails the stage.
pub trait Metrics: Send + Sync {
    fn emit(&self, doc: MetricDoc);
}

/// Drops every document.
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn emit(&self, _doc: MetricDoc) {}
}
