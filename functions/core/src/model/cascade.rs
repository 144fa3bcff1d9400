use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::ports::{Model, ModelAnswer, ModelError, ModelRequest, ModelUsage};

/// Asks each tier in order and stops at the first answer at or above the
/// workflow's `review_below`: the cheap tier settles the easy cases and the
/// dear one is paid only for the rest. With no confident answer, the last
/// answer stands (the reason stage then routes it to a person).
pub struct CascadeModel {
    tiers: Vec<Arc<dyn Model>>,
}

impl CascadeModel {
    pub fn new(tiers: Vec<Arc<dyn Model>>) -> Self {
        assert!(!tiers.is_empty(), "a cascade needs at least one model");
        Self { tiers }
    }
}

#[async_trait]
impl Model for CascadeModel {
    async fn infer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
        let threshold = request.workflow.spec.reason.review_below;
        let mut trail = Vec::new();
        let mut usage: Option<ModelUsage> = None;
        let mut last: Option<Result<ModelAnswer, ModelError>> = None;
        for tier in &self.tiers {
            let t0 = Instant::now();
            let result = tier.infer(request).await;
            let ms = t0.elapsed().as_millis() as u64;
            match &result {
                Ok(answer) => {
                    trail.push(format!(
                        "{} {:.2} in {ms} ms",
                        answer.tier, answer.confidence
                    ));
                    let spent = answer.usage.unwrap_or_default();
                    let total = usage.get_or_insert_with(ModelUsage::default);
                    total.input_tokens += spent.input_tokens;
                    total.output_tokens += spent.output_tokens;
                    total.latency_ms += ms;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "model tier failed; trying the next");
                    trail.push(format!("failed in {ms} ms: {e}"));
                }
            }
            let confident = matches!(&result, Ok(a) if a.confidence >= threshold);
            // A later tier's failure must not discard an earlier answer.
            if result.is_ok() || !matches!(last, Some(Ok(_))) {
                last = Some(result);
            }
            if confident {
                break;
            }
        }
        let mut answer = last.expect("at least one tier")?;
        if self.tiers.len() > 1 {
            answer.rationale = format!("{} [cascade: {}]", answer.rationale, trail.join("; "));
            answer.usage = usage;
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Fixed {
        tier: &'static str,
        confidence: Option<f64>,
        calls: AtomicUsize,
    }

    impl Fixed {
        fn new(tier: &'static str, confidence: Option<f64>) -> Arc<Self> {
            Arc::new(Self {
                tier,
                confidence,
                calls: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl Model for Fixed {
        async fn infer(&self, _: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let confidence = self
                .confidence
                .ok_or_else(|| ModelError::Unavailable("down".into()))?;
            Ok(ModelAnswer {
                label: self.tier.into(),
                confidence,
                rationale: format!("{} says so", self.tier),
                fields: Default::default(),
                tier: self.tier.into(),
                usage: (self.tier == "llm").then_some(ModelUsage {
                    input_tokens: 100,
                    output_tokens: 20,
                    latency_ms: 5,
                }),
            })
        }
    }

    /// support-triage asks for review below 0.35.
    async fn ask(cascade: &CascadeModel) -> Result<ModelAnswer, ModelError> {
        let workflow = handoff_workflows::catalog()
            .get("support-triage")
            .expect("shipped workflow");
        cascade
            .infer(&ModelRequest {
                workflow,
                text: "where is my order?",
                feedback: &[],
            })
            .await
    }

    #[tokio::test]
    async fn confident_first_tier_answers_alone() {
        let (cheap, dear) = (
            Fixed::new("cheap", Some(0.9)),
            Fixed::new("llm", Some(0.99)),
        );
        let cascade = CascadeModel::new(vec![cheap.clone(), dear.clone()]);
        let answer = ask(&cascade).await.unwrap();
        assert_eq!(answer.tier, "cheap");
        assert_eq!(dear.calls.load(Ordering::SeqCst), 0);
        assert!(answer.rationale.contains("cascade: cheap 0.90"));
    }

    #[tokio::test]
    async fn unsure_first_tier_asks_the_next() {
        let (cheap, dear) = (Fixed::new("cheap", Some(0.2)), Fixed::new("llm", Some(0.8)));
        let cascade = CascadeModel::new(vec![cheap, dear.clone()]);
        let answer = ask(&cascade).await.unwrap();
        assert_eq!(answer.tier, "llm");
        assert_eq!(dear.calls.load(Ordering::SeqCst), 1);
        let usage = answer.usage.unwrap();
        assert_eq!((usage.input_tokens, usage.output_tokens), (100, 20));
        assert!(
            answer.rationale.contains("cheap 0.20"),
            "{}",
            answer.rationale
        );
    }

    #[tokio::test]
    async fn no_confident_tier_keeps_the_last_answer() {
        let cascade = CascadeModel::new(vec![
            Fixed::new("cheap", Some(0.2)),
            Fixed::new("llm", Some(0.3)),
        ]);
        let answer = ask(&cascade).await.unwrap();
        assert_eq!((answer.tier.as_str(), answer.confidence), ("llm", 0.3));
    }

    #[tokio::test]
    async fn failed_later_tier_keeps_the_earlier_answer() {
        let cascade = CascadeModel::new(vec![
            Fixed::new("cheap", Some(0.2)),
            Fixed::new("llm", None),
        ]);
        let answer = ask(&cascade).await.unwrap();
        assert_eq!(answer.tier, "cheap");
        assert!(answer.rationale.contains("failed"), "{}", answer.rationale);
    }

    #[tokio::test]
    async fn every_tier_failing_is_an_error() {
        let cascade = CascadeModel::new(vec![Fixed::new("cheap", None)]);
        assert!(matches!(
            ask(&cascade).await,
            Err(ModelError::Unavailable(_))
        ));
    }
}
