//! The model tiers the local runtime serves: `embedded` always, and the LLM
//! tiers `handoff up --llm URL` (one OpenAI-compatible server for every tier
//! the workflows name) or `--models FILE` (tier by tier) configure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, Context};
use handoff_core::model::Tiers;
use handoff_llm::config::{self, ModelConfig, ModelsConfig};
use handoff_spec::{Catalog, EMBEDDED_TIER};

/// Where the LLM tiers come from.
#[derive(Debug, Clone, Default)]
pub enum LlmSource {
    /// None: the embedded tier only.
    #[default]
    None,
    /// One OpenAI-compatible server for every LLM tier the workflows name.
    Url {
        url: String,
        model: String,
        /// The environment variable holding its key, if it takes one.
        key_env: Option<String>,
    },
    /// A models configuration file (YAML or JSON).
    File(PathBuf),
}

/// The tiers, and what to tell the user about them at start-up.
pub struct Configured {
    pub tiers: Tiers,
    pub config: ModelsConfig,
    /// `models: embedded, fast → openai … (…)` and, when some tier the
    /// workflows name is missing, `skipped: not configured: …`.
    pub banner: Vec<String>,
}

/// Every LLM tier a task of a loaded workflow names, with the workflows
/// naming it.
pub fn named_tiers(catalog: &Catalog) -> BTreeMap<String, BTreeSet<String>> {
    let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in catalog.names() {
        let Some(workflow) = catalog.get(name) else {
            continue;
        };
        for task in workflow.spec.reason.tasks() {
            for tier in task.models.iter().filter(|t| *t != EMBEDDED_TIER) {
                named
                    .entry(tier.clone())
                    .or_default()
                    .insert(name.to_string());
            }
        }
    }
    named
}

/// The models configuration `source` stands for, given the workflows.
pub fn models_config(source: &LlmSource, catalog: &Catalog) -> anyhow::Result<ModelsConfig> {
    Ok(match source {
        LlmSource::None => ModelsConfig::default(),
        LlmSource::Url {
            url,
            model,
            key_env,
        } => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("--llm must be an http:// or https:// base URL such as http://127.0.0.1:8080/v1, not {url:?}");
            }
            let mut config = ModelsConfig::default();
            for tier in named_tiers(catalog).into_keys() {
                let mut model = ModelConfig::openai(url.trim_end_matches('/'), model.clone());
                model.api_key_env = key_env.clone();
                model
                    .check(&tier)
                    .map_err(|e| anyhow::anyhow!("--llm: {e}"))?;
                config.tiers.insert(tier, model);
            }
            config
        }
        LlmSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the models config {}", path.display()))?;
            ModelsConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
    })
}

/// The tiers for `source`, keys read from the environment variables the
/// configuration names.
pub fn configure(source: &LlmSource, catalog: &Catalog) -> anyhow::Result<Configured> {
    let config = models_config(source, catalog)?;
    let tiers = config::tiers(&config, config::key_from_env).map_err(|e| match source {
        LlmSource::Url { .. } => anyhow::anyhow!("--llm: {e}"),
        LlmSource::File(path) => anyhow::anyhow!("{}: {e}", path.display()),
        LlmSource::None => anyhow::Error::new(e),
    })?;
    let banner = banner(&config, &named_tiers(catalog));
    Ok(Configured {
        tiers,
        config,
        banner,
    })
}

fn banner(config: &ModelsConfig, named: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut configured = vec![EMBEDDED_TIER.to_string()];
    for (tier, model) in &config.tiers {
        let unused = if named.contains_key(tier) {
            ""
        } else {
            " (no workflow names it)"
        };
        configured.push(format!("{tier} → {}{unused}", model.describe()));
    }
    let mut lines = vec![format!("models: {}", configured.join(", "))];
    let skipped: Vec<String> = named
        .iter()
        .filter(|(tier, _)| !config.tiers.contains_key(*tier))
        .map(|(tier, workflows)| {
            let workflows: Vec<&str> = workflows.iter().map(String::as_str).collect();
            format!("{tier} ({})", workflows.join(", "))
        })
        .collect();
    if !skipped.is_empty() {
        lines.push(format!(
            "skipped: not configured: {} (--llm URL or --models FILE configures them)",
            skipped.join(", ")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_url_serves_every_tier_the_seed_workflows_name() {
        let catalog = handoff_workflows::catalog();
        let named = named_tiers(catalog);
        assert_eq!(
            named.keys().map(String::as_str).collect::<Vec<_>>(),
            ["fast", "strong"]
        );
        let source = LlmSource::Url {
            url: "http://127.0.0.1:8080/v1/".into(),
            model: "default".into(),
            key_env: None,
        };
        let configured = configure(&source, catalog).unwrap();
        assert_eq!(
            configured.tiers.names().collect::<Vec<_>>(),
            ["embedded", "fast", "strong"]
        );
        assert_eq!(
            configured.banner,
            [
                "models: embedded, fast → openai http://127.0.0.1:8080/v1 (default), \
              strong → openai http://127.0.0.1:8080/v1 (default)"
            ]
        );
    }

    #[test]
    fn without_llm_the_named_tiers_are_reported_skipped() {
        let configured = configure(&LlmSource::None, handoff_workflows::catalog()).unwrap();
        assert_eq!(configured.tiers.names().collect::<Vec<_>>(), ["embedded"]);
        assert_eq!(configured.banner[0], "models: embedded");
        assert!(
            configured.banner[1].starts_with(
                "skipped: not configured: fast (customer-onboarding, invoice-approval, \
                 lead-qualification, revops-call-followup, support-triage), strong \
                 (customer-onboarding, lead-qualification, revops-call-followup, support-triage)"
            ),
            "{:?}",
            configured.banner
        );
    }

    #[test]
    fn a_models_file_configures_tiers_one_by_one() {
        let dir = std::env::temp_dir().join(format!("handoff-models-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("models.yaml");
        std::fs::write(
            &path,
            "fast:\n  provider: openai\n  model: small\n  endpoint: http://127.0.0.1:9/v1\n",
        )
        .unwrap();
        let configured =
            configure(&LlmSource::File(path.clone()), handoff_workflows::catalog()).unwrap();
        assert_eq!(
            configured.tiers.names().collect::<Vec<_>>(),
            ["embedded", "fast"]
        );
        assert!(configured.banner[1].starts_with("skipped: not configured: strong"));

        std::fs::write(&path, "fast:\n  provider: openai\n  model: small\n  api_key_env: HANDOFF_TEST_UNSET_KEY_VAR\n").unwrap();
        let e = configure(&LlmSource::File(path.clone()), handoff_workflows::catalog())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("tier `fast`") && e.contains("HANDOFF_TEST_UNSET_KEY_VAR"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
