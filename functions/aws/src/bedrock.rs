//! [`Model`] on Bedrock's Converse API: the task's prompt as system text and
//! turns (the documents it shows as document and image blocks), the answer
//! as the input of one forced tool whose schema is the task's. Validation,
//! the repair turn and what a failure means are the reason stage's; this
//! adapter only maps the wire and its errors.

mod documents;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput as Output, InferenceConfiguration, Message,
    SpecificToolChoice, StopReason, SystemContentBlock, Tool, ToolChoice, ToolConfiguration,
    ToolInputSchema, ToolSpecification,
};
use aws_smithy_types::{Document, Number};
use handoff_core::ports::{Model, ModelAnswer, ModelError, ModelRequest, ModelUsage, Turn};
use serde_json::{json, Value};

pub struct BedrockModel {
    pub client: aws_sdk_bedrockruntime::Client,
    pub model_id: String,
    /// Per Converse call; a repair turn gets its own.
    pub timeout: Duration,
}

impl BedrockModel {
    pub fn new(client: aws_sdk_bedrockruntime::Client, model_id: impl Into<String>) -> Self {
        Self {
            client,
            model_id: model_id.into(),
            timeout: Duration::from_secs(20),
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, model_id: impl Into<String>) -> Self {
        Self::new(aws_sdk_bedrockruntime::Client::new(config), model_id)
    }
}

#[async_trait]
impl Model for BedrockModel {
    async fn answer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
        let t0 = Instant::now();
        let prompt = request.prompt;
        let shown = documents::shown(&prompt.documents).map_err(build_error)?;
        let mut documents = Some(shown.blocks).filter(|blocks| !blocks.is_empty());
        let messages = prompt
            .turns
            .iter()
            .map(|turn| match turn {
                Turn::User(text) => {
                    // The documents go with the first user turn only.
                    let mut content = documents.take().unwrap_or_default();
                    content.push(ContentBlock::Text(text.clone()));
                    message(ConversationRole::User, content)
                }
                Turn::Assistant(text) => message(
                    ConversationRole::Assistant,
                    vec![ContentBlock::Text(text.clone())],
                ),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let note = (!shown.notes.is_empty()).then(|| shown.notes.join("; "));
        let call = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(prompt.system.clone()))
            .set_messages(Some(messages))
            .tool_config(tool_config(&prompt.name, &prompt.schema)?)
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(prompt.max_output_tokens.min(i32::MAX as u32) as i32)
                    .temperature(0.0)
                    .build(),
            )
            .send();
        let out = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(out)) => out,
            Ok(Err(err)) => return Err(sdk_error(&err)),
            Err(_) => return Err(ModelError::Timeout(self.timeout.as_millis() as u64)),
        };
        let usage = out.usage().map(|u| ModelUsage {
            input_tokens: u.input_tokens().max(0) as u64,
            output_tokens: u.output_tokens().max(0) as u64,
            latency_ms: t0.elapsed().as_millis() as u64,
        });
        if matches!(
            out.stop_reason(),
            StopReason::ContentFiltered | StopReason::GuardrailIntervened
        ) {
            return Err(ModelError::Refused(format!(
                "stop reason `{}`",
                out.stop_reason().as_str()
            )));
        }
        let reply = match out.output() {
            Some(Output::Message(m)) => m,
            _ => return Err(ModelError::Empty),
        };
        let input = reply.content().iter().find_map(|block| match block {
            ContentBlock::ToolUse(call) if call.name() == prompt.name => Some(call.input()),
            _ => None,
        });
        match input {
            Some(input) => Ok(ModelAnswer {
                value: document_to_value(input),
                usage,
                model: self.model_id.clone(),
                note,
            }),
            None => {
                let said = said(reply);
                if said.is_empty() {
                    Err(ModelError::Empty)
                } else {
                    Err(ModelError::Invalid(format!(
                        "no tool call; the model wrote: {said}"
                    )))
                }
            }
        }
    }
}

/// Throttling is worth a wait; the service's own faults are server errors;
/// the rest (access, validation, network) is the model being unavailable.
fn sdk_error<E, R>(err: &aws_sdk_bedrockruntime::error::SdkError<E, R>) -> ModelError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some("ThrottlingException") | Some("TooManyRequestsException") => {
            ModelError::RateLimited { retry_after: None }
        }
        Some(
            code @ ("InternalServerException"
            | "ServiceUnavailableException"
            | "ModelNotReadyException"),
        ) => ModelError::Server {
            status: 500,
            detail: code.to_string(),
        },
        _ => ModelError::Unavailable(DisplayErrorContext(err).to_string()),
    }
}

/// What the model wrote instead of calling the tool, capped.
fn said(reply: &Message) -> String {
    let text: String = reply
        .content()
        .iter()
        .filter_map(|b| b.as_text().ok())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    text.trim().chars().take(200).collect()
}

fn tool_config(name: &str, schema: &Value) -> Result<ToolConfiguration, ModelError> {
    let spec = ToolSpecification::builder()
        .name(name)
        .description("Record the answer.")
        .input_schema(ToolInputSchema::Json(value_to_document(schema)))
        .build()
        .map_err(build_error)?;
    ToolConfiguration::builder()
        .tools(Tool::ToolSpec(spec))
        .tool_choice(ToolChoice::Tool(
            SpecificToolChoice::builder()
                .name(name)
                .build()
                .map_err(build_error)?,
        ))
        .build()
        .map_err(build_error)
}

fn message(role: ConversationRole, content: Vec<ContentBlock>) -> Result<Message, ModelError> {
    Message::builder()
        .role(role)
        .set_content(Some(content))
        .build()
        .map_err(build_error)
}

fn build_error(e: aws_smithy_types::error::operation::BuildError) -> ModelError {
    ModelError::Unavailable(format!("bedrock request: {e}"))
}

fn value_to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or_default())
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(value_to_document).collect()),
        Value::Object(map) => Document::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), value_to_document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn document_to_value(doc: &Document) -> Value {
    match doc {
        Document::Null => Value::Null,
        Document::Bool(b) => json!(b),
        Document::Number(Number::PosInt(u)) => json!(u),
        Document::Number(Number::NegInt(i)) => json!(i),
        Document::Number(Number::Float(f)) => json!(f),
        Document::String(s) => json!(s),
        Document::Array(items) => Value::Array(items.iter().map(document_to_value).collect()),
        Document::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), document_to_value(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip() {
        let v = json!({"a": [1, -2, 0.5, "x", null, true], "b": {"c": {}}});
        assert_eq!(document_to_value(&value_to_document(&v)), v);
    }
}
