//! Both providers against the scripted server over real loopback HTTP: one
//! test per behaviour, asserting on the reply and on what was sent.

mod anthropic;
mod openai;

use handoff_llm::{Call, Role};
use serde_json::{json, Value};

/// A task schema of the shape the AI step sends.
fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["billing", "bug", "other"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "summary": {"type": "string"},
        },
        "required": ["label", "confidence", "summary"],
    })
}

fn turns() -> Vec<(Role, String)> {
    vec![(Role::User, "My card was charged twice.".to_string())]
}

fn call<'a>(schema: &'a Value, turns: &'a [(Role, String)]) -> Call<'a> {
    Call {
        name: "triage",
        system: "Classify the support ticket.",
        turns,
        schema,
        max_output_tokens: 256,
    }
}

/// A port nothing listens on: bound, read, released.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
