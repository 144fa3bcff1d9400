//! The context object (`$$` in JSONPath, `$states.context` in JSONata).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::timestamp;

/// Who and what an execution is; the host chooses the names and ARNs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub role_arn: String,
    pub start_time: DateTime<Utc>,
}

impl ExecutionInfo {
    /// Local ARNs in AWS's shape, for hosts that have no account or region.
    pub fn local(
        state_machine_name: &str,
        execution_name: &str,
        start_time: DateTime<Utc>,
    ) -> Self {
        let machine =
            format!("arn:aws:states:local:000000000000:stateMachine:{state_machine_name}");
        ExecutionInfo {
            execution_arn: format!(
                "arn:aws:states:local:000000000000:execution:{state_machine_name}:{execution_name}"
            ),
            name: execution_name.to_string(),
            state_machine_arn: machine,
            state_machine_name: state_machine_name.to_string(),
            role_arn: "arn:aws:iam::000000000000:role/handoff-local".to_string(),
            start_time,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapItem {
    pub index: usize,
    pub value: Value,
}

/// The per-state part of the context object.
pub struct StateContext<'a> {
    pub name: &'a str,
    pub entered_time: DateTime<Utc>,
    /// Only Task states report a retry count.
    pub retry_count: Option<u32>,
    pub task_token: Option<&'a str>,
    pub map_item: Option<&'a MapItem>,
}

/// The top-level members of the context object, in the order [`build`] assembles them.
pub const PARTS: [&str; 5] = ["Execution", "StateMachine", "State", "Task", "Map"];

/// One top-level member of the context object (`None` when this state's context lacks it), so
/// a `$$.Task.Token` lookup need not build the rest.
pub fn part(
    info: &ExecutionInfo,
    input: &Value,
    state: &StateContext,
    name: &str,
) -> Option<Value> {
    match name {
        "Execution" => Some(json!({
            "Id": info.execution_arn,
            "Input": input,
            "Name": info.name,
            "RoleArn": info.role_arn,
            "StartTime": timestamp::format(info.start_time),
            "RedriveCount": 0,
        })),
        "StateMachine" => {
            Some(json!({"Id": info.state_machine_arn, "Name": info.state_machine_name}))
        }
        "State" => {
            let mut state_obj = Map::new();
            state_obj.insert(
                "EnteredTime".into(),
                timestamp::format(state.entered_time).into(),
            );
            state_obj.insert("Name".into(), state.name.into());
            if let Some(n) = state.retry_count {
                state_obj.insert("RetryCount".into(), n.into());
            }
            Some(Value::Object(state_obj))
        }
        "Task" => state.task_token.map(|token| json!({ "Token": token })),
        "Map" => state
            .map_item
            .map(|item| json!({"Item": {"Index": item.index, "Value": item.value}})),
        _ => None,
    }
}

pub fn build(info: &ExecutionInfo, input: &Value, state: &StateContext) -> Value {
    let mut ctx = Map::new();
    for name in PARTS {
        if let Some(v) = part(info, input, state, name) {
            ctx.insert(name.to_string(), v);
        }
    }
    Value::Object(ctx)
}
