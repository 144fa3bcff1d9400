//! The models configuration (feature `port`): which provider and model
//! serve each LLM tier a workflow's tasks name (`fast`, `strong`, …). One
//! shape for both hosts: `handoff up --models FILE` reads it locally, the
//! reason Lambda from its deployment.
//!
//! ```yaml
//! fast:
//!   provider: openai            # openai | anthropic
//!   model: gpt-4o-mini
//!   endpoint: https://api.openai.com/v1   # optional; the provider's own by default
//!   api_key_env: OPENAI_API_KEY # optional for openai; the key is never in the file
//!   auth_header: api-key        # optional, openai only: `<name>: <key>` instead of a bearer token
//!   structured: json_schema     # optional, openai only: json_schema | tools
//!   timeout_ms: 30000           # optional
//!   price: { input_per_1k: 0.00015, output_per_1k: 0.0006 }   # optional, for the cost metrics
//! strong:
//!   provider: anthropic
//!   model: claude-sonnet-4-5
//!   api_key_env: ANTHROPIC_API_KEY
//! ```
//!
//! `embedded` is not configurable: it is built in. Keys come from wherever
//! the host keeps them (locally the environment variable `api_key_env`
//! names, see [`key_from_env`]); no error message ever contains one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use handoff_core::model::Tiers;
use handoff_core::observe::emf::TokenPrice;
use handoff_core::spec::EMBEDDED_TIER;
use serde::Deserialize;
use serde_json::Value;

use crate::port::LlmModel;
use crate::{Anthropic, Auth, OpenAiCompatible, Provider, Structured};

/// The bound on one call when a tier does not set `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Where `provider: openai` goes without an `endpoint`.
pub const OPENAI_ENDPOINT: &str = "https://api.openai.com/v1";

/// Every configured LLM tier by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelsConfig {
    pub tiers: BTreeMap<String, ModelConfig>,
}

/// One tier: a provider, a model and how to reach it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub provider: ProviderKind,
    pub model: String,
    /// The base URL; the provider's public one when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Local hosts: the environment variable holding the key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The reason Lambda: the secret (a name under `SecretPrefix`) holding
    /// the key.
    #[serde(default)]
    pub api_key_secret: Option<String>,
    /// OpenAI-compatible only: send the key as `<auth_header>: <key>`
    /// (Azure's `api-key`) instead of `Authorization: Bearer <key>`.
    #[serde(default)]
    pub auth_header: Option<String>,
    /// OpenAI-compatible only: how the schema is imposed.
    #[serde(default)]
    pub structured: Option<StructuredMode>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub price: Option<Price>,
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ProviderKind {
    /// Any server speaking OpenAI's `/chat/completions`.
    #[serde(rename = "openai")]
    OpenAi,
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Bedrock's Converse API with a forced tool: built by the AWS host
    /// only, with the function's own credentials.
    #[serde(rename = "bedrock")]
    Bedrock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredMode {
    JsonSchema,
    Tools,
}

/// What a thousand tokens cost, in the currency the metrics report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_1k: f64,
    pub output_per_1k: f64,
}

/// What is wrong with the configuration, and in which tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub tier: Option<String>,
    pub message: String,
}

impl ConfigError {
    pub fn new(tier: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            tier: tier.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tier {
            Some(tier) => write!(f, "models config: tier `{tier}`: {}", self.message),
            None => write!(f, "models config: {}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ModelsConfig {
    /// Parses YAML or JSON (a text starting with `{` is read as JSON) and
    /// checks every tier.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let top: Value = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| ConfigError::new(None, format!("not valid JSON: {e}")))?
        } else {
            serde_yaml_ng::from_str(text)
                .map_err(|e| ConfigError::new(None, format!("not valid YAML: {e}")))?
        };
        let Value::Object(entries) = top else {
            return Err(ConfigError::new(
                None,
                "expected a map of tier name → {provider, model, …}",
            ));
        };
        let mut tiers = BTreeMap::new();
        for (name, entry) in entries {
            let tier = Some(name.as_str());
            check_name(&name)?;
            let Value::Object(fields) = &entry else {
                return Err(ConfigError::new(
                    tier,
                    "expected a map with `provider` and `model`",
                ));
            };
            if fields.contains_key("api_key") {
                return Err(ConfigError::new(
                    tier,
                    "`api_key` is never read from the file: name the environment variable \
                     that holds the key with `api_key_env`",
                ));
            }
            let config: ModelConfig = serde_path_to_error::deserialize(&entry).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let message = if path == "." {
                    inner.to_string()
                } else {
                    format!("`{path}`: {inner}")
                };
                ConfigError::new(tier, message)
            })?;
            config.check(&name)?;
            tiers.insert(name, config);
        }
        Ok(Self { tiers })
    }
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    if name == EMBEDDED_TIER {
        return Err(ConfigError::new(
            Some(name),
            "`embedded` is built in and cannot be configured; name LLM tiers otherwise \
             (fast, strong, …)",
        ));
    }
    if name.trim().is_empty() {
        return Err(ConfigError::new(None, "a tier name is empty"));
    }
    Ok(())
}

impl ModelConfig {
    /// An OpenAI-compatible endpoint with no key and the defaults: what
    /// `handoff up --llm URL` configures.
    pub fn openai(endpoint: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider: ProviderKind::OpenAi,
            model: model.into(),
            endpoint: Some(endpoint.into()),
            api_key_env: None,
            api_key_secret: None,
            auth_header: None,
            structured: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            price: None,
        }
    }

    /// The base URL calls go to.
    pub fn endpoint(&self) -> &str {
        match (&self.endpoint, self.provider) {
            (Some(endpoint), _) => endpoint,
            (None, ProviderKind::OpenAi) => OPENAI_ENDPOINT,
            (None, ProviderKind::Anthropic) => Anthropic::DEFAULT_ENDPOINT,
            (None, ProviderKind::Bedrock) => "bedrock",
        }
    }

    /// `openai http://127.0.0.1:8080/v1 (default)`: for start-up banners.
    pub fn describe(&self) -> String {
        match self.provider {
            ProviderKind::OpenAi => format!("openai {} ({})", self.endpoint(), self.model),
            ProviderKind::Anthropic => format!("anthropic {} ({})", self.endpoint(), self.model),
            ProviderKind::Bedrock => format!("bedrock ({})", self.model),
        }
    }

    /// Everything about one tier that can be wrong without calling it.
    pub fn check(&self, tier: &str) -> Result<(), ConfigError> {
        check_name(tier)?;
        let fail = |message: String| Err(ConfigError::new(Some(tier), message));
        if self.model.trim().is_empty() {
            return fail("`model` is empty".into());
        }
        if let Some(endpoint) = &self.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return fail(format!(
                    "`endpoint` must be an http:// or https:// URL, not {endpoint:?}"
                ));
            }
        }
        if let Some(var) = &self.api_key_env {
            if var.is_empty() || var.contains(['=', '\0']) {
                return fail(format!(
                    "`api_key_env` must name an environment variable, not {var:?}"
                ));
            }
        }
        if let Some(secret) = &self.api_key_secret {
            // The reason function may read secrets under models/ only.
            if !secret.starts_with("models/") || secret.len() == "models/".len() {
                return fail(format!(
                    "`api_key_secret` must name a secret under `models/`, not {secret:?}"
                ));
            }
        }
        if let Some(header) = &self.auth_header {
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if header.is_empty() || !header.chars().all(token) {
                return fail(format!("`auth_header` is not a header name: {header:?}"));
            }
        }
        if self.provider == ProviderKind::Bedrock {
            for (key, set) in [
                ("endpoint", self.endpoint.is_some()),
                ("api_key_env", self.api_key_env.is_some()),
                ("api_key_secret", self.api_key_secret.is_some()),
                ("auth_header", self.auth_header.is_some()),
                ("structured", self.structured.is_some()),
            ] {
                if set {
                    return fail(format!(
                        "`{key}` does not apply to provider bedrock (it uses the function's \
                         own AWS credentials)"
                    ));
                }
            }
        }
        if self.provider == ProviderKind::Anthropic {
            for (key, set) in [
                ("auth_header", self.auth_header.is_some()),
                ("structured", self.structured.is_some()),
            ] {
                if set {
                    return fail(format!(
                        "`{key}` applies to provider openai only (anthropic always sends \
                         x-api-key and a forced tool)"
                    ));
                }
            }
        }
        if self.timeout_ms == 0 {
            return fail("`timeout_ms` must be above 0".into());
        }
        if let Some(price) = &self.price {
            for (key, value) in [
                ("price.input_per_1k", price.input_per_1k),
                ("price.output_per_1k", price.output_per_1k),
            ] {
                if !value.is_finite() || value < 0.0 {
                    return fail(format!("`{key}` must be a number ≥ 0, not {value}"));
                }
            }
        }
        Ok(())
    }

    /// The transport for this tier. `key` is the tier's API key, if any.
    pub fn provider(
        &self,
        tier: &str,
        key: Option<String>,
        client: reqwest::Client,
    ) -> Result<Arc<dyn Provider>, ConfigError> {
        self.check(tier)?;
        let timeout = Duration::from_millis(self.timeout_ms);
        Ok(match self.provider {
            ProviderKind::OpenAi => Arc::new(OpenAiCompatible {
                endpoint: self.endpoint().to_string(),
                model: self.model.clone(),
                api_key: key,
                auth: match &self.auth_header {
                    Some(name) => Auth::Header(name.clone()),
                    None => Auth::Bearer,
                },
                timeout,
                structured: match self.structured {
                    Some(StructuredMode::Tools) => Structured::Tools,
                    Some(StructuredMode::JsonSchema) | None => Structured::JsonSchema,
                },
                client,
            }),
            ProviderKind::Bedrock => {
                return Err(ConfigError::new(
                    Some(tier),
                    "provider bedrock is served in AWS only (the reason function); \
                     locally use an openai or anthropic tier",
                ))
            }
            ProviderKind::Anthropic => {
                let Some(key) = key else {
                    return Err(ConfigError::new(
                        Some(tier),
                        "provider anthropic needs an API key: name the environment variable \
                         that holds it with `api_key_env`",
                    ));
                };
                Arc::new(Anthropic {
                    endpoint: self.endpoint().to_string(),
                    model: self.model.clone(),
                    api_key: key,
                    timeout,
                    client,
                })
            }
        })
    }

    /// What the tier's tokens cost, for the metrics and the audit trail.
    pub fn token_price(&self) -> TokenPrice {
        let price = self.price.unwrap_or_default();
        TokenPrice {
            input_per_1k: price.input_per_1k,
            output_per_1k: price.output_per_1k,
        }
    }
}

/// The embedded tier and every configured one. `api_key` gives a tier's key
/// (`None`: the tier sends none); its errors are passed on as they are.
pub fn tiers(
    config: &ModelsConfig,
    api_key: impl Fn(&str, &ModelConfig) -> Result<Option<String>, ConfigError>,
) -> Result<Tiers, ConfigError> {
    add_tiers(Tiers::embedded_only(), config, api_key)
}

/// [`tiers`] on top of the given ones (a host's own embedded tier, say).
pub fn add_tiers(
    mut tiers: Tiers,
    config: &ModelsConfig,
    api_key: impl Fn(&str, &ModelConfig) -> Result<Option<String>, ConfigError>,
) -> Result<Tiers, ConfigError> {
    let client = reqwest::Client::new();
    for (name, model) in &config.tiers {
        model.check(name)?;
        let key = api_key(name, model)?;
        let provider = model.provider(name, key, client.clone())?;
        tiers = tiers.with(
            name,
            &model.model,
            Arc::new(LlmModel::new(provider)),
            model.token_price(),
        );
    }
    Ok(tiers)
}

/// The local hosts' key source: the environment variable the tier's
/// `api_key_env` names (no key when it names none). A variable that is
/// named but unset or empty is an error, which names the variable only.
pub fn key_from_env(tier: &str, config: &ModelConfig) -> Result<Option<String>, ConfigError> {
    let Some(var) = &config.api_key_env else {
        return Ok(None);
    };
    let missing = |what: &str| {
        Err(ConfigError::new(
            Some(tier),
            format!("the environment variable `{var}` (api_key_env) {what}"),
        ))
    };
    match std::env::var(var) {
        Ok(key) if key.trim().is_empty() => missing("is empty"),
        Ok(key) => Ok(Some(key.trim().to_string())),
        Err(std::env::VarError::NotPresent) => missing("is not set"),
        Err(std::env::VarError::NotUnicode(_)) => missing("is not valid UTF-8"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        ModelsConfig::parse(text).expect_err(text).to_string()
    }

    #[test]
    fn yaml_and_json_give_the_same_tiers_with_defaults() {
        let yaml = "
fast:
  provider: openai
  model: gpt-4o-mini
  api_key_env: OPENAI_API_KEY
  structured: tools
  price: { input_per_1k: 0.00015, output_per_1k: 0.0006 }
strong:
  provider: anthropic
  model: claude-sonnet-4-5
  api_key_env: ANTHROPIC_API_KEY
  timeout_ms: 60000
";
        let json = r#"{
  "fast": {"provider": "openai", "model": "gpt-4o-mini", "api_key_env": "OPENAI_API_KEY",
           "structured": "tools", "price": {"input_per_1k": 0.00015, "output_per_1k": 0.0006}},
  "strong": {"provider": "anthropic", "model": "claude-sonnet-4-5",
             "api_key_env": "ANTHROPIC_API_KEY", "timeout_ms": 60000}
}"#;
        let config = ModelsConfig::parse(yaml).unwrap();
        assert_eq!(config, ModelsConfig::parse(json).unwrap());
        let fast = &config.tiers["fast"];
        assert_eq!(fast.provider, ProviderKind::OpenAi);
        assert_eq!(fast.structured, Some(StructuredMode::Tools));
        assert_eq!(fast.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(fast.endpoint(), OPENAI_ENDPOINT);
        assert_eq!(
            fast.describe(),
            "openai https://api.openai.com/v1 (gpt-4o-mini)"
        );
        let strong = &config.tiers["strong"];
        assert_eq!(strong.timeout_ms, 60_000);
        assert_eq!(strong.endpoint(), Anthropic::DEFAULT_ENDPOINT);
    }

    #[test]
    fn errors_name_the_tier_and_the_key() {
        let e = error("fast:\n  provider: openai\n  modle: x\n");
        assert!(e.contains("tier `fast`") && e.contains("modle"), "{e}");
        let e = error("fast:\n  provider: openai\n");
        assert!(e.contains("tier `fast`") && e.contains("model"), "{e}");
        let e = error("fast:\n  provider: vertex\n  model: x\n");
        assert!(e.contains("tier `fast`") && e.contains("`provider`"), "{e}");
        let e = error("fast:\n  provider: bedrock\n  model: x\n  endpoint: https://x\n");
        assert!(
            e.contains("`endpoint` does not apply to provider bedrock"),
            "{e}"
        );
        let e = error("fast:\n  provider: openai\n  model: x\n  api_key_secret: approval-links\n");
        assert!(e.contains("under `models/`"), "{e}");
        let e =
            error("fast:\n  provider: openai\n  model: x\n  price: { input_per_1k: 1, out: 2 }\n");
        assert!(
            e.contains("tier `fast`") && e.contains("`price.out`"),
            "{e}"
        );
        let e = error("fast:\n  provider: openai\n  model: x\n  price: { input_per_1k: 1, output_per_1k: -2 }\n");
        assert!(e.contains("price.output_per_1k"), "{e}");
        let e = error("strong:\n  provider: anthropic\n  model: x\n  structured: tools\n");
        assert!(
            e.contains("tier `strong`") && e.contains("`structured`"),
            "{e}"
        );
        let e = error("fast:\n  provider: openai\n  model: x\n  endpoint: localhost:8080\n");
        assert!(e.contains("`endpoint`"), "{e}");
        let e = error("fast:\n  provider: openai\n  model: x\n  timeout_ms: 0\n");
        assert!(e.contains("`timeout_ms`"), "{e}");
        let e = error("- fast\n");
        assert!(e.contains("a map of tier name"), "{e}");
        let e = error("{\"fast\": ");
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn embedded_is_built_in_and_keys_never_come_from_the_file() {
        let e = error("embedded:\n  provider: openai\n  model: x\n");
        assert!(
            e.contains("tier `embedded`") && e.contains("built in"),
            "{e}"
        );
        let e = error("fast:\n  provider: openai\n  model: x\n  api_key: sk-very-secret\n");
        assert!(e.contains("api_key_env"), "{e}");
        assert!(!e.contains("sk-very-secret"), "{e}");
    }

    #[test]
    fn tiers_adds_every_configured_tier_and_asks_for_each_key() {
        let config = ModelsConfig::parse(
            "fast:\n  provider: openai\n  model: m\n  endpoint: http://127.0.0.1:9/v1\n\
             strong:\n  provider: anthropic\n  model: c\n  api_key_env: K\n",
        )
        .unwrap();
        let asked = std::sync::Mutex::new(Vec::new());
        let tiers = tiers(&config, |tier, model| {
            asked.lock().unwrap().push(tier.to_string());
            Ok(model.api_key_env.as_ref().map(|_| "sk-test".to_string()))
        })
        .unwrap();
        assert_eq!(
            tiers.names().collect::<Vec<_>>(),
            ["embedded", "fast", "strong"]
        );
        assert!(tiers.get("fast").unwrap().billed);
        assert_eq!(*asked.lock().unwrap(), ["fast", "strong"]);

        // Anthropic takes no call without a key; the error names no key.
        let e = tiers_error(&config, |_, _| Ok(None));
        assert!(
            e.contains("tier `strong`") && e.contains("api_key_env"),
            "{e}"
        );
        // The key source's own error is passed on.
        let e = tiers_error(&config, |tier, _| {
            Err(ConfigError::new(Some(tier), "no such secret"))
        });
        assert!(e.contains("tier `fast`: no such secret"), "{e}");
    }

    fn tiers_error(
        config: &ModelsConfig,
        key: impl Fn(&str, &ModelConfig) -> Result<Option<String>, ConfigError>,
    ) -> String {
        match tiers(config, key) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn keys_from_the_environment_name_the_variable_not_the_value() {
        let mut model = ModelConfig::openai("http://127.0.0.1:9/v1", "m");
        assert_eq!(key_from_env("fast", &model).unwrap(), None);
        model.api_key_env = Some("HANDOFF_LLM_TEST_KEY_UNSET_7F3A".into());
        let e = key_from_env("fast", &model).unwrap_err().to_string();
        assert!(
            e.contains("tier `fast`")
                && e.contains("HANDOFF_LLM_TEST_KEY_UNSET_7F3A")
                && e.contains("not set"),
            "{e}"
        );
        model.api_key_env = Some("PATH".into());
        assert!(key_from_env("fast", &model).unwrap().is_some());
    }
}
