use std::collections::BTreeMap;
use std::sync::Arc;

use handoff_spec::EMBEDDED_TIER;

use crate::observe::emf::TokenPrice;
use crate::ports::Model;

/// One configured model: what a task's `models:` list names.
#[derive(Clone)]
pub struct Tier {
    pub name: String,
    /// The model the tier is configured to call (the provider's id): part
    /// of the answer cache's key, so a tier pointed at another model does
    /// not reuse the old one's answers.
    pub model_id: String,
    pub model: Arc<dyn Model>,
    pub price: TokenPrice,
    /// Whether its answers cost tokens (every tier but the embedded one).
    pub billed: bool,
}

/// The tiers a deployment has, by name. `embedded` is always there; the
/// LLM names (`fast`, `strong`, …) are configuration, so a spec may name a
/// tier this deployment lacks: the task then skips it, audited.
#[derive(Clone)]
pub struct Tiers {
    tiers: BTreeMap<String, Tier>,
}

impl Tiers {
    /// Only the embedded tier: what `handoff up` runs with no LLM.
    pub fn embedded_only() -> Self {
        Self::with_embedded(Arc::new(super::EmbeddedModel::new()))
    }

    pub fn with_embedded(embedded: Arc<dyn Model>) -> Self {
        let mut tiers = BTreeMap::new();
        tiers.insert(
            EMBEDDED_TIER.to_string(),
            Tier {
                name: EMBEDDED_TIER.to_string(),
                model_id: EMBEDDED_TIER.to_string(),
                model: embedded,
                price: TokenPrice::default(),
                billed: false,
            },
        );
        Self { tiers }
    }

    /// Adds (or replaces) a billed LLM tier `name` that calls `model_id`.
    pub fn with(
        mut self,
        name: &str,
        model_id: &str,
        model: Arc<dyn Model>,
        price: TokenPrice,
    ) -> Self {
        self.tiers.insert(
            name.to_string(),
            Tier {
                name: name.to_string(),
                model_id: model_id.to_string(),
                model,
                price,
                billed: true,
            },
        );
        self
    }

    pub fn get(&self, name: &str) -> Option<&Tier> {
        self.tiers.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tiers.keys().map(String::as_str)
    }
}
