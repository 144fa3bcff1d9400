//! The reason function's `HANDOFF_MODELS`: each tier built from the models
//! configuration, its API key read from Secrets Manager, never the file.

use handoff_core::memory::StaticSecrets;
use handoff_core::ports::{ModelRequest, Prompt, Turn};
use handoff_llm::config::ModelsConfig;
use handoff_llm::testing::ScriptedServer;
use serde_json::json;

#[tokio::test]
async fn a_configured_tier_sends_the_key_from_its_secret() {
    let server = ScriptedServer::start().await;
    let models = ModelsConfig::parse(&format!(
        r#"{{"fast": {{"provider": "openai", "model": "m", "endpoint": "{}",
             "api_key_secret": "models/openai"}}}}"#,
        server.openai_url()
    ))
    .unwrap();
    let secrets = StaticSecrets::with(&[("models/openai", "sk-from-secrets")]);
    let aws = aws_config::SdkConfig::builder().build();
    let tiers = reason::configured(&aws, &models, &secrets).await.unwrap();
    let fast = tiers.get("fast").expect("the configured tier");
    assert!(fast.billed);

    let workflow = handoff_workflows::catalog().get("support-triage").unwrap();
    let task = workflow.spec.reason.task("summary").unwrap();
    let prompt = Prompt {
        name: "summary".into(),
        system: "Summarise.".into(),
        turns: vec![Turn::User("data".into())],
        schema: task.answer_schema(),
        max_output_tokens: 100,
        documents: Vec::new(),
    };
    fast.model
        .answer(&ModelRequest {
            workflow,
            task,
            text: "data",
            feedback: &[],
            prompt: &prompt,
            models: None,
        })
        .await
        .unwrap();
    let sent = &server.received()[0];
    let auth = sent
        .headers
        .iter()
        .find(|(name, _)| name == "authorization")
        .map(|(_, v)| v.as_str());
    assert_eq!(auth, Some("Bearer sk-from-secrets"));
    assert_eq!(sent.body["model"], json!("m"));
}

#[tokio::test]
async fn a_missing_key_secret_names_the_tier_not_a_value() {
    let models = ModelsConfig::parse(
        r#"{"strong": {"provider": "anthropic", "model": "m", "api_key_secret": "models/none"}}"#,
    )
    .unwrap();
    let secrets = StaticSecrets::default();
    let aws = aws_config::SdkConfig::builder().build();
    let err = match reason::configured(&aws, &models, &secrets).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a tier without its key must not be built"),
    };
    assert!(
        err.contains("strong") && err.contains("models/none"),
        "{err}"
    );
}
