//! The core's [`Model`] port over a [`Provider`] (feature `port`): the
//! reason stage's provider-neutral prompt in, the provider's JSON object and
//! what it cost out, every failure mapped to the outcome it is audited as.
//! No retry, no validation: both are the reason stage's.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use handoff_core::ports::{
    Model, ModelAnswer, ModelError, ModelRequest, ModelUsage, PromptImage, Turn,
};

use crate::{Attachment, Call, CallError, Image, Provider, Role};

/// An LLM tier: one [`Provider`] answering the reason stage's prompts.
#[derive(Clone)]
pub struct LlmModel {
    provider: Arc<dyn Provider>,
}

impl LlmModel {
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        Self { provider }
    }
}

#[async_trait]
impl Model for LlmModel {
    async fn answer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
        let prompt = request.prompt;
        let turns: Vec<(Role, String)> = prompt
            .turns
            .iter()
            .map(|turn| match turn {
                Turn::User(text) => (Role::User, text.clone()),
                Turn::Assistant(text) => (Role::Assistant, text.clone()),
            })
            .collect();
        let pages: Vec<Vec<Image>> = prompt
            .documents
            .iter()
            .map(|doc| doc.pages.iter().map(image).collect())
            .collect();
        let attachments: Vec<Attachment> = prompt
            .documents
            .iter()
            .zip(&pages)
            .map(|(doc, pages)| Attachment {
                number: doc.number,
                pdf: doc.pdf.as_deref(),
                pages,
            })
            .collect();
        let call = Call {
            name: &prompt.name,
            system: &prompt.system,
            turns: &turns,
            attachments: &attachments,
            schema: &prompt.schema,
            max_output_tokens: prompt.max_output_tokens,
        };
        let t0 = Instant::now();
        let reply = self.provider.call(&call).await?;
        Ok(ModelAnswer {
            value: reply.value,
            usage: Some(ModelUsage {
                input_tokens: reply.input_tokens,
                output_tokens: reply.output_tokens,
                latency_ms: t0.elapsed().as_millis() as u64,
            }),
            model: reply.model,
            note: None,
        })
    }
}

fn image(page: &PromptImage) -> Image<'_> {
    Image {
        media_type: page.media_type,
        bytes: &page.bytes,
    }
}

/// One to one: each transport failure is the port's failure of that name.
impl From<CallError> for ModelError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Unavailable(detail) => ModelError::Unavailable(detail),
            CallError::Timeout(ms) => ModelError::Timeout(ms),
            CallError::RateLimited { retry_after } => ModelError::RateLimited { retry_after },
            CallError::Server { status, detail } => ModelError::Server { status, detail },
            CallError::Refused(reason) => ModelError::Refused(reason),
            CallError::Empty => ModelError::Empty,
            CallError::Invalid(detail) => ModelError::Invalid(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use handoff_core::model::{build_prompt, show_document, PromptInput, Redactor, ShownDocuments};
    use serde_json::json;

    use super::*;
    use crate::testing::{ScriptedServer, Step};
    use crate::{Anthropic, OpenAiCompatible};

    async fn ask(provider: Arc<dyn Provider>) -> (Result<ModelAnswer, ModelError>, String) {
        ask_showing(provider, &ShownDocuments::default()).await
    }

    async fn ask_showing(
        provider: Arc<dyn Provider>,
        documents: &ShownDocuments,
    ) -> (Result<ModelAnswer, ModelError>, String) {
        let workflow = handoff_workflows::catalog()
            .get("support-triage")
            .expect("the seed workflow")
            .clone();
        let task = &workflow.spec.reason.tasks()[0];
        let event = json!({"text": "My card was stolen", "sender": "a@example.com"});
        let built = build_prompt(&PromptInput {
            workflow: &workflow,
            task,
            event: &event,
            context: &json!({}),
            ai: &json!({}),
            feedback: &[],
            redactor: &Redactor::for_workflow(&workflow),
            documents,
        });
        let mut prompt = built.prompt;
        prompt.turns.push(Turn::Assistant("{}".into()));
        prompt.turns.push(Turn::User("try again".into()));
        let request = ModelRequest {
            workflow: &workflow,
            task,
            text: "My card was stolen",
            feedback: &[],
            prompt: &prompt,
            models: None,
        };
        let answer = LlmModel::new(provider).answer(&request).await;
        (answer, prompt.system)
    }

    #[tokio::test]
    async fn prompt_goes_out_as_the_call_and_the_reply_comes_back_with_usage() {
        let server = ScriptedServer::start().await;
        let answer = json!({"label": "card_problem", "confidence": 0.9, "rationale": "stolen"});
        server.push(Step::Valid(answer.clone()));
        let provider = OpenAiCompatible::new(server.openai_url(), "gpt-test");
        let (got, system) = ask(Arc::new(provider)).await;
        let got = got.expect("an answer");
        assert_eq!(got.value, answer);
        assert_eq!(got.model, "gpt-test");
        let usage = got.usage.expect("usage");
        assert!(
            usage.input_tokens > 0 && usage.output_tokens > 0,
            "{usage:?}"
        );

        let sent = &server.requests()[0];
        let messages = sent["messages"].as_array().unwrap();
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(messages[0]["content"], json!(system));
        assert!(messages[1]["content"]
            .as_str()
            .unwrap()
            .contains("My card was stolen"));
        assert_eq!(messages[2]["content"], "{}");
        assert_eq!(sent["response_format"]["json_schema"]["name"], "issue_type");
    }

    /// A real invoice PDF as the core shows it: whole, and its page
    /// rendered.
    fn invoice_shown() -> (Vec<u8>, ShownDocuments) {
        let invoice = handoff_invoices::Invoice::sample(3);
        let pdf = handoff_invoices::pdf(&invoice, handoff_invoices::Layout::Classic);
        let doc = show_document(1, "sha256:ab", &pdf, 20).expect("a PDF the core renders");
        let shown = ShownDocuments {
            documents: vec![doc],
            left_out: Vec::new(),
        };
        (pdf, shown)
    }

    fn decoded(base64: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(base64)
            .expect("valid base64")
    }

    #[tokio::test]
    async fn a_pdf_reaches_openai_as_its_rendered_png_page() {
        let server = ScriptedServer::start().await;
        let provider = OpenAiCompatible::new(server.openai_url(), "gpt-test");
        let (_, shown) = invoice_shown();
        let (answer, system) = ask_showing(Arc::new(provider), &shown).await;
        answer.expect("an answer");

        assert!(system.contains("[document N]"), "{system}");
        let content = &server.requests()[0]["messages"][1]["content"];
        assert_eq!(content[0], json!({"type": "text", "text": "[document 1]"}));
        let url = content[1]["image_url"]["url"].as_str().unwrap();
        let png = decoded(url.strip_prefix("data:image/png;base64,").unwrap());
        assert!(png.starts_with(b"\x89PNG\r\n"), "a PNG");
        assert_eq!(png, &*shown.documents[0].pages[0].bytes);
        assert!(content[2]["text"]
            .as_str()
            .unwrap()
            .contains("My card was stolen"));
        assert_eq!(content.as_array().unwrap().len(), 3, "one page, one text");
    }

    #[tokio::test]
    async fn a_whole_pdf_reaches_anthropic_as_a_document_block() {
        let server = ScriptedServer::start().await;
        let provider = Anthropic {
            endpoint: server.base_url(),
            ..Anthropic::new("claude-test", "sk-ant-test")
        };
        let (pdf, shown) = invoice_shown();
        let (answer, _) = ask_showing(Arc::new(provider), &shown).await;
        answer.expect("an answer");

        let content = &server.requests()[0]["messages"][0]["content"];
        assert_eq!(content[1]["type"], "document");
        assert_eq!(content[1]["source"]["media_type"], "application/pdf");
        assert_eq!(decoded(content[1]["source"]["data"].as_str().unwrap()), pdf);
    }

    #[tokio::test]
    async fn every_call_error_becomes_the_port_error_of_that_name() {
        let server = ScriptedServer::start().await;
        let status = |status, retry_after| Step::Status {
            status,
            retry_after,
            body: String::new(),
        };
        let cases = [
            (status(429, Some(3)), "rate_limited"),
            (status(503, None), "server_error"),
            (status(401, None), "unavailable"),
            (Step::Refusal("no".into()), "refused"),
            (Step::Empty, "empty"),
            (Step::Raw("not json".into()), "invalid"),
        ];
        for (step, outcome) in cases {
            server.push(step);
            let provider = OpenAiCompatible::new(server.openai_url(), "gpt-test");
            let (got, _) = ask(Arc::new(provider)).await;
            let err = got.expect_err(outcome);
            assert_eq!(err.outcome(), outcome, "{err}");
            if outcome == "rate_limited" {
                assert!(matches!(
                    err,
                    ModelError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3)
                ));
            }
        }

        server.push(Step::Delay(
            Duration::from_millis(500),
            Box::new(Step::Auto),
        ));
        let mut provider = Anthropic::new("claude-test", "k");
        provider.endpoint = server.base_url();
        provider.timeout = Duration::from_millis(100);
        let (got, _) = ask(Arc::new(provider)).await;
        assert!(matches!(got, Err(ModelError::Timeout(100))), "{got:?}");
    }
}
