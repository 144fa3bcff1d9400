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

pub fn build(info: &ExecutionInfo, input: &Value, state: &StateContext) -> Value {
    let mut state_obj = Map::new();
    state_obj.insert(
        "EnteredTime".into(),
        timestamp::format(state.entered_time).into(),
    );
    state_obj.insert("Name".into(), state.name.into());
    if let Some(n) = state.retry_count {
        state_obj.insert("RetryCount".into(), n.into());
    }
    let mut ctx = json!({
        "Execution": {
            "Id": info.execution_arn,
            "Input": input,
            "Name": info.name,
            "RoleArn": info.role_arn,
            "StartTime": timestamp::format(info.start_time),
            "RedriveCount": 0,
        },
        "StateMachine": {"Id": info.state_machine_arn, "Name": info.state_machine_name},
        "State": state_obj,
    });
    if let Some(token) = state.task_token {
        ctx["Task"] = json!({ "Token": token });
    }
    if let Some(item) = state.map_item {
        ctx["Map"] = json!({"Item": {"Index": item.index, "Value": item.value}});
    }
    ctx
}
