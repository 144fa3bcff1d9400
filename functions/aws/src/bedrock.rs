//! [`Model`] on Bedrock's Converse API. The answer comes back as the input
//! of one forced tool call whose JSON schema is built from the workflow's
//! spec, and is validated again here against that same schema: a model may
//! ignore a schema, so one repair turn is offered with the errors, and an
//! answer still off the schema is `Invalid`, which sends the run to a person.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_bedrockruntime::error::DisplayErrorContext;
use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput as Output, InferenceConfiguration, Message,
    SpecificToolChoice, StopReason, SystemContentBlock, Tool, ToolChoice, ToolConfiguration,
    ToolInputSchema, ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolSpecification,
};
use aws_smithy_types::{Document, Number};
use handoff_core::domain::Feedback;
use handoff_core::ports::{Model, ModelAnswer, ModelError, ModelRequest, ModelUsage};
use handoff_spec::{FieldKind, Workflow};
use serde_json::{json, Map, Value};

/// The one tool the model is made to call; its input is the answer.
pub const TOOL: &str = "record_result";
/// Characters of the message the model sees; longer messages are cut, and
/// the prompt says so.
pub const TEXT_BUDGET: usize = 8_000;
/// Reviewer corrections shown as worked examples.
pub const FEW_SHOT: usize = 5;
/// Examples per label in the system prompt.
const LABEL_EXAMPLES: usize = 2;

pub struct BedrockModel {
    pub client: aws_sdk_bedrockruntime::Client,
    pub model_id: String,
    /// Per Converse call; a repair turn gets its own.
    pub timeout: Duration,
    pub max_tokens: i32,
}

impl BedrockModel {
    pub fn new(client: aws_sdk_bedrockruntime::Client, model_id: impl Into<String>) -> Self {
        Self {
            client,
            model_id: model_id.into(),
            timeout: Duration::from_secs(20),
            max_tokens: 1024,
        }
    }

    pub fn from_config(config: &aws_config::SdkConfig, model_id: impl Into<String>) -> Self {
        Self::new(aws_sdk_bedrockruntime::Client::new(config), model_id)
    }

    async fn converse(
        &self,
        system: &str,
        tools: &ToolConfiguration,
        messages: &[Message],
    ) -> Result<ConverseOutput, ModelError> {
        let call = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(system.to_string()))
            .set_messages(Some(messages.to_vec()))
            .tool_config(tools.clone())
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(self.max_tokens)
                    .temperature(0.0)
                    .build(),
            )
            .send();
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(err)) => Err(ModelError::Unavailable(
                DisplayErrorContext(&err).to_string(),
            )),
            Err(_) => Err(ModelError::Unavailable(format!(
                "bedrock did not answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

#[async_trait]
impl Model for BedrockModel {
    async fn infer(&self, request: &ModelRequest<'_>) -> Result<ModelAnswer, ModelError> {
        let t0 = Instant::now();
        let workflow = request.workflow;
        let schema = answer_schema(workflow);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| ModelError::Invalid(format!("answer schema does not compile: {e}")))?;
        let tools = tool_config(&schema)?;
        let system = system_prompt(workflow);
        let mut messages = vec![message(
            ConversationRole::User,
            vec![ContentBlock::Text(user_prompt(request))],
        )?];
        let mut usage = ModelUsage::default();

        for attempt in 0..2 {
            let out = self.converse(&system, &tools, &messages).await?;
            if let Some(u) = out.usage() {
                usage.input_tokens += u.input_tokens().max(0) as u64;
                usage.output_tokens += u.output_tokens().max(0) as u64;
            }
            let reply = match out.output() {
                Some(Output::Message(m)) => Some(m.clone()),
                _ => None,
            };
            let call = reply.as_ref().and_then(|m| {
                m.content().iter().find_map(|block| match block {
                    ContentBlock::ToolUse(call) if call.name() == TOOL => Some(call.clone()),
                    _ => None,
                })
            });
            let call = match (out.stop_reason(), call) {
                (StopReason::ContentFiltered | StopReason::GuardrailIntervened, _) | (_, None) => {
                    return Err(ModelError::Invalid(format!(
                        "model did not answer: stop reason `{}`{}",
                        out.stop_reason().as_str(),
                        reply.as_ref().map(said).unwrap_or_default()
                    )))
                }
                (_, Some(call)) => call,
            };
            let input = document_to_value(call.input());
            let errors: Vec<_> = validator.iter_errors(&input).collect();
            if errors.is_empty() {
                usage.latency_ms = t0.elapsed().as_millis() as u64;
                return Ok(answer_from(workflow, input, usage));
            }
            let reasons: Vec<String> = errors
                .iter()
                .map(|e| match e.instance_path().as_str() {
                    "" => e.to_string(),
                    at => format!("{at}: {e}"),
                })
                .collect();
            // The reasons quote the answer's values (extracted, maybe sensitive
            // fields); the log names only where and which rule.
            let off_schema: Vec<String> = errors
                .iter()
                .map(|e| {
                    format!(
                        "{} ({})",
                        e.instance_path().as_str(),
                        e.schema_path().as_str()
                    )
                })
                .collect();
            tracing::warn!(attempt, off_schema = ?off_schema, "model answer off the schema");
            if attempt > 0 {
                return Err(ModelError::Invalid(reasons.join("; ")));
            }
            messages.push(reply.expect("a tool call came in a message"));
            let result = ToolResultBlock::builder()
                .tool_use_id(call.tool_use_id())
                .status(ToolResultStatus::Error)
                .content(ToolResultContentBlock::Text(format!(
                    "The input does not match the schema: {}. Call {TOOL} again with \
                     corrected input.",
                    reasons.join("; ")
                )))
                .build()
                .map_err(build_error)?;
            messages.push(message(
                ConversationRole::User,
                vec![ContentBlock::ToolResult(result)],
            )?);
        }
        unreachable!("the repair attempt returns")
    }
}

/// What the model wrote instead of calling the tool, for the review reason.
fn said(reply: &Message) -> String {
    let text: String = reply
        .content()
        .iter()
        .filter_map(|b| b.as_text().ok())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let text: String = text.chars().take(200).collect();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

fn answer_from(workflow: &Workflow, input: Value, usage: ModelUsage) -> ModelAnswer {
    let wanted: BTreeSet<&str> = workflow
        .spec
        .reason
        .extract
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let fields: BTreeMap<String, Value> = match input.get("fields") {
        Some(Value::Object(fields)) => fields
            .iter()
            .filter(|(k, v)| wanted.contains(k.as_str()) && !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => BTreeMap::new(),
    };
    ModelAnswer {
        label: input["label"].as_str().unwrap_or_default().to_string(),
        confidence: input["confidence"].as_f64().unwrap_or_default(),
        rationale: input["rationale"].as_str().unwrap_or_default().to_string(),
        fields,
        tier: "bedrock".into(),
        usage: Some(usage),
    }
}

/// The tool's input schema: the workflow's labels as an enum, a confidence,
/// a rationale, and one property per extract field typed by its kind.
/// Unfound fields may be null or left out.
pub fn answer_schema(workflow: &Workflow) -> Value {
    let spec = &workflow.spec.reason;
    let labels: Vec<&str> = spec.labels.iter().map(|l| l.name.as_str()).collect();
    let fields: Map<String, Value> = spec
        .extract
        .iter()
        .map(|f| (f.name.clone(), field_schema(f.kind)))
        .collect();
    json!({
        "type": "object",
        "properties": {
            "label": { "type": "string", "enum": labels },
            "confidence": {
                "type": "number", "minimum": 0, "maximum": 1,
                "description": "How sure you are of the label, from 0 to 1."
            },
            "rationale": {
                "type": "string",
                "description": "One or two sentences on why this label."
            },
            "fields": { "type": "object", "properties": fields },
        },
        "required": ["label", "confidence", "rationale"],
    })
}

fn field_schema(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Email => {
            json!({ "type": ["string", "null"], "description": "An e-mail address." })
        }
        FieldKind::OrderId | FieldKind::InvoiceId | FieldKind::PoId => {
            json!({ "type": ["string", "null"], "description": "The identifier as written." })
        }
        FieldKind::Money => json!({
            "type": ["object", "null"],
            "properties": {
                "value": { "type": "number" },
                "currency": { "type": "string", "description": "ISO 4217 code, e.g. EUR." },
            },
            "required": ["value", "currency"],
        }),
        FieldKind::Date => json!({ "type": ["string", "null"], "format": "date" }),
    }
}

fn tool_config(schema: &Value) -> Result<ToolConfiguration, ModelError> {
    let spec = ToolSpecification::builder()
        .name(TOOL)
        .description("Record the label, confidence, rationale and extracted fields.")
        .input_schema(ToolInputSchema::Json(value_to_document(schema)))
        .build()
        .map_err(build_error)?;
    ToolConfiguration::builder()
        .tools(Tool::ToolSpec(spec))
        .tool_choice(ToolChoice::Tool(
            SpecificToolChoice::builder()
                .name(TOOL)
                .build()
                .map_err(build_error)?,
        ))
        .build()
        .map_err(build_error)
}

pub fn system_prompt(workflow: &Workflow) -> String {
    let spec = &workflow.spec.reason;
    let mut out = format!(
        "You classify incoming messages for the `{}` workflow{}.\n\
         Answer only by calling the `{TOOL}` tool. Pick exactly one label; give a \
         confidence from 0 to 1 that is honest (a person reviews anything you are \
         unsure of, so do not guess high).\n\nLabels:\n",
        workflow.name(),
        match workflow.spec.description.as_str() {
            "" => String::new(),
            d => format!(" ({d})"),
        }
    );
    for label in &spec.labels {
        out.push_str(&format!("- {}: {}\n", label.name, label.description));
        for example in label.examples.iter().take(LABEL_EXAMPLES) {
            out.push_str(&format!("    e.g. \"{example}\"\n"));
        }
    }
    if !spec.extract.is_empty() {
        out.push_str("\nFields to extract when the message states them (leave out otherwise):\n");
        for field in &spec.extract {
            let kind = serde_json::to_value(field.kind).unwrap_or(Value::Null);
            out.push_str(&format!(
                "- {} ({}){}\n",
                field.name,
                kind.as_str().unwrap_or("value"),
                if field.required { ", required" } else { "" }
            ));
        }
    }
    out.push_str(&format!(
        "\nMessages longer than {TEXT_BUDGET} characters are cut; the message says when."
    ));
    out
}

/// The message, cut to the budget, after the most similar reviewer
/// corrections as worked examples.
fn user_prompt(request: &ModelRequest<'_>) -> String {
    let mut out = String::new();
    let examples = few_shot(request.feedback, request.text, FEW_SHOT);
    if !examples.is_empty() {
        out.push_str("Similar messages that reviewers labelled:\n");
        for f in examples {
            out.push_str(&format!(
                "<example label=\"{}\">\n{}\n</example>\n",
                f.final_label,
                cut(&f.text, 1_000).0
            ));
        }
        out.push('\n');
    }
    let (text, truncated) = cut(request.text, TEXT_BUDGET);
    out.push_str("Classify this message:\n<message>\n");
    out.push_str(text);
    out.push_str("\n</message>");
    if truncated {
        out.push_str(&format!(
            "\n(The message was cut to its first {TEXT_BUDGET} characters of {}.)",
            request.text.chars().count()
        ));
    }
    out
}

fn cut(text: &str, chars: usize) -> (&str, bool) {
    match text.char_indices().nth(chars) {
        Some((at, _)) => (&text[..at], true),
        None => (text, false),
    }
}

/// Up to `n` corrections most like `text` by word overlap (Jaccard), best
/// first; corrections sharing no word are left out.
pub fn few_shot<'a>(feedback: &'a [Feedback], text: &str, n: usize) -> Vec<&'a Feedback> {
    let words = tokens(text);
    let mut scored: Vec<(f64, usize, &Feedback)> = feedback
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let theirs = tokens(&f.text);
            let shared = words.intersection(&theirs).count();
            let all = words.union(&theirs).count();
            (shared > 0).then(|| (shared as f64 / all as f64, i, f))
        })
        .collect();
    // Ties keep the store's order (most recent first).
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(n).map(|(_, _, f)| f).collect()
}

/// Words too common to say two messages are alike.
const STOPWORDS: &[&str] = &[
    "and", "are", "but", "can", "for", "from", "have", "not", "please", "that", "the", "this",
    "was", "what", "when", "with", "you", "your",
];

fn tokens(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect()
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

    fn feedback(text: &str, label: &str) -> Feedback {
        serde_json::from_value(json!({
            "workflow": "w", "run_id": "r1", "at": "2026-01-01T00:00:00Z", "text": text,
            "predicted_label": "x", "confidence": 0.2, "final_label": label, "reviewer": "a@b.c",
        }))
        .unwrap()
    }

    #[test]
    fn few_shot_picks_the_most_similar_corrections() {
        let fb = [
            feedback("the app crashes on start", "technical_issue"),
            feedback("refund my duplicate payment for order 7", "refund_request"),
            feedback("weather is nice", "other"),
        ];
        let picked = few_shot(&fb, "please refund the duplicate payment", 5);
        let labels: Vec<&str> = picked.iter().map(|f| f.final_label.as_str()).collect();
        assert_eq!(labels, ["refund_request"]);
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let (text, cut_) = cut("ééé", 2);
        assert_eq!((text, cut_), ("éé", true));
        assert_eq!(cut("ab", 2), ("ab", false));
    }

    #[test]
    fn documents_round_trip() {
        let v = json!({"a": [1, -2, 0.5, "x", null, true], "b": {"c": {}}});
        assert_eq!(document_to_value(&value_to_document(&v)), v);
    }
}
