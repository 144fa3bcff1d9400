//! CloudWatch embedded metric format (EMF): one JSON document per log line
//! that CloudWatch turns into metrics. Builds the document only; writing it
//! is the [`crate::ports::Metrics`] adapter's job.

use serde_json::{json, Map, Value};

/// Every metric a function can emit, so the dashboard and alarms in
/// template.yaml can be checked against this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    RunsReceived,
    DedupeHits,
    RunsStarted,
    RunsCompleted,
    RunsRejected,
    RunsFailed,
    AutoResolved,
    Reviewed,
    ApprovalLatency,
    ApprovalsOverdue,
    ApprovalsUndelivered,
    ApprovalRedeliveries,
    Override,
    AiConfidence,
    ModelTier,
    LlmInputTokens,
    LlmOutputTokens,
    LlmCost,
    LlmLatency,
    BudgetExhausted,
    StageDuration,
    StageErrors,
    /// Per label, from the accuracy review: the upper bound of its error rate.
    AutonomyErrorBound,
    /// The verdicts the bound stands on.
    AutonomySamples,
    /// The share of the label's answers that act alone (0 under review).
    AutonomyCoverage,
}

impl Metric {
    pub const ALL: [Metric; 25] = [
        Metric::RunsReceived,
        Metric::DedupeHits,
        Metric::RunsStarted,
        Metric::RunsCompleted,
        Metric::RunsRejected,
        Metric::RunsFailed,
        Metric::AutoResolved,
        Metric::Reviewed,
        Metric::ApprovalLatency,
        Metric::ApprovalsOverdue,
        Metric::ApprovalsUndelivered,
        Metric::ApprovalRedeliveries,
        Metric::Override,
        Metric::AiConfidence,
        Metric::ModelTier,
        Metric::LlmInputTokens,
        Metric::LlmOutputTokens,
        Metric::LlmCost,
        Metric::LlmLatency,
        Metric::BudgetExhausted,
        Metric::StageDuration,
        Metric::StageErrors,
        Metric::AutonomyErrorBound,
        Metric::AutonomySamples,
        Metric::AutonomyCoverage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::RunsReceived => "RunsReceived",
            Metric::DedupeHits => "DedupeHits",
            Metric::RunsStarted => "RunsStarted",
            Metric::RunsCompleted => "RunsCompleted",
            Metric::RunsRejected => "RunsRejected",
            Metric::RunsFailed => "RunsFailed",
            Metric::AutoResolved => "AutoResolved",
            Metric::Reviewed => "Reviewed",
            Metric::ApprovalLatency => "ApprovalLatency",
            Metric::ApprovalsOverdue => "ApprovalsOverdue",
            Metric::ApprovalsUndelivered => "ApprovalsUndelivered",
            Metric::ApprovalRedeliveries => "ApprovalRedeliveries",
            Metric::Override => "Override",
            Metric::AiConfidence => "AiConfidence",
            Metric::ModelTier => "ModelTier",
            Metric::LlmInputTokens => "LlmInputTokens",
            Metric::LlmOutputTokens => "LlmOutputTokens",
            Metric::LlmCost => "LlmCost",
            Metric::LlmLatency => "LlmLatency",
            Metric::BudgetExhausted => "BudgetExhausted",
            Metric::StageDuration => "StageDuration",
            Metric::StageErrors => "StageErrors",
            Metric::AutonomyErrorBound => "AutonomyErrorBound",
            Metric::AutonomySamples => "AutonomySamples",
            Metric::AutonomyCoverage => "AutonomyCoverage",
        }
    }

    /// The CloudWatch unit; cost is in US dollars, which has no unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::ApprovalLatency | Metric::StageDuration | Metric::LlmLatency => "Milliseconds",
            Metric::AiConfidence
            | Metric::LlmCost
            | Metric::AutonomyErrorBound
            | Metric::AutonomyCoverage => "None",
            _ => "Count",
        }
    }
}

/// The namespace every handoff metric lives in.
pub const NAMESPACE: &str = "handoff";

/// One EMF document: values that share one set of dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDoc {
    /// Dimension name and value, in order; `workflow` always comes first.
    pub dimensions: Vec<(String, String)>,
    pub values: Vec<(Metric, f64)>,
    /// Searchable in Logs Insights, not metrics (e.g. the run id).
    pub properties: Vec<(String, Value)>,
}

impl MetricDoc {
    pub fn workflow(workflow: &str) -> Self {
        Self {
            dimensions: vec![("workflow".into(), workflow.into())],
            values: Vec::new(),
            properties: Vec::new(),
        }
    }

    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.push((name.into(), value.into()));
        self
    }

    pub fn value(mut self, metric: Metric, value: f64) -> Self {
        self.values.push((metric, value));
        self
    }

    pub fn count(self, metric: Metric) -> Self {
        self.value(metric, 1.0)
    }

    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.push((name.into(), value.into()));
        self
    }

    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(_, v)| *v)
    }

    pub fn dimension_value(&self, name: &str) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The EMF document stamped at `timestamp_ms` (Unix milliseconds).
    /// Each value is declared twice: under the document's dimensions and
    /// under none, the total that alarms and dashboard totals read without
    /// naming every workflow. Properties never shadow a dimension or a
    /// metric value.
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        let mut root = Map::new();
        for (name, value) in &self.properties {
            root.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.dimensions {
            root.insert(name.clone(), json!(value));
        }
        for (metric, value) in &self.values {
            root.insert(metric.name().into(), json!(value));
        }
        let names: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let metrics: Vec<Value> = self
            .values
            .iter()
            .map(|(m, _)| json!({ "Name": m.name(), "Unit": m.unit() }))
            .collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [names, []],
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(root)
    }

    /// The document as the single log line Lambda ships to CloudWatch.
    pub fn to_line(&self, timestamp_ms: i64) -> String {
        self.to_json(timestamp_ms).to_string()
    }
}

/// What one model call is estimated to cost, in US dollars: the configured
/// price per thousand input and output tokens (the embedded tier is free).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenPrice {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

impl TokenPrice {
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_1k + output_tokens as f64 * self.output_per_1k)
            / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_declares_every_value_under_the_namespace_and_dimensions() {
        let doc = MetricDoc::workflow("support-triage")
            .dimension("stage", "reason")
            .value(Metric::StageDuration, 12.5)
            .count(Metric::RunsStarted)
            .property("run_id", "run-1");
        let v = doc.to_json(1_700_000_000_000);
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(cw["Namespace"], "handoff");
        assert_eq!(cw["Dimensions"], json!([["workflow", "stage"], []]));
        assert_eq!(
            cw["Metrics"],
            json!([
                { "Name": "StageDuration", "Unit": "Milliseconds" },
                { "Name": "RunsStarted", "Unit": "Count" }
            ])
        );
        assert_eq!(v["workflow"], "support-triage");
        assert_eq!(v["stage"], "reason");
        assert_eq!(v["StageDuration"], 12.5);
        assert_eq!(v["RunsStarted"], 1.0);
        assert_eq!(v["run_id"], "run-1");
    }

    #[test]
    fn a_property_cannot_overwrite_a_dimension_or_value() {
        let doc = MetricDoc::workflow("w")
            .count(Metric::Override)
            .property("workflow", "other")
            .property("Override", 7);
        let v = doc.to_json(0);
        assert_eq!(v["workflow"], "w");
        assert_eq!(v["Override"], 1.0);
    }

    #[test]
    fn line_is_one_line_of_json() {
        let line = MetricDoc::workflow("w")
            .property("note", "a\nb")
            .count(Metric::RunsReceived)
            .to_line(5);
        assert!(!line.contains('\n'));
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["RunsReceived"], 1.0);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }

    #[test]
    fn cost_is_priced_per_thousand_tokens() {
        let price = TokenPrice {
            input_per_1k: 0.003,
            output_per_1k: 0.015,
        };
        assert!((price.cost(2000, 1000) - 0.021).abs() < 1e-12);
        assert_eq!(TokenPrice::default().cost(5000, 5000), 0.0);
    }
}
