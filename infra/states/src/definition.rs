//! The typed form of an ASL document. Fields keep AWS's names; values that may hold a JSONata
//! template (`{% … %}`) stay as JSON until evaluated.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::choice::ChoiceRule;
use crate::error::DefinitionError;
use crate::path::Path;
use crate::payload::{self, Template};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum QueryLanguage {
    #[default]
    JSONPath,
    JSONata,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    pub start_at: String,
    pub states: HashMap<String, State>,
    pub query_language: Option<QueryLanguage>,
    pub timeout_seconds: Option<u64>,
    pub comment: Option<String>,
    /// `states` keyed with a cheaper hash for the engine's by-name lookups, built on first use.
    #[serde(skip)]
    lookup: OnceLock<HashMap<String, State, BuildHasherDefault<Fnv>>>,
}

/// FNV-1a: state names are short, and SipHash's DoS resistance buys nothing for a definition.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Resolves `${Name}` placeholders the way SAM's DefinitionSubstitutions do; unknown names stay.
pub fn substitute(text: &str, substitutions: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if substitutions.contains_key(&after[..end]) => {
                out.push_str(&substitutions[&after[..end]]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl StateMachine {
    pub fn from_json(text: &str) -> Result<Arc<StateMachine>, DefinitionError> {
        Self::from_value(serde_json::from_str(text)?)
    }

    pub fn from_value(value: Value) -> Result<Arc<StateMachine>, DefinitionError> {
        let mut machine: StateMachine = serde_json::from_value(value)?;
        machine.inherit_query_language(QueryLanguage::JSONPath);
        if !machine.states.contains_key(&machine.start_at) {
            return Err(DefinitionError::Invalid(format!(
                "StartAt '{}' does not name a state",
                machine.start_at
            )));
        }
        Ok(Arc::new(machine))
    }

    /// States without their own QueryLanguage take the enclosing machine's, so the engine never
    /// has to look further than the state itself.
    fn inherit_query_language(&mut self, outer: QueryLanguage) {
        let lang = *self.query_language.get_or_insert(outer);
        for state in self.states.values_mut() {
            let own = *state.query_language.get_or_insert(lang);
            for branch in state.branches.iter_mut() {
                Arc::make_mut(branch).inherit_query_language(own);
            }
            if let Some(p) = state.processor_mut() {
                Arc::make_mut(p).inherit_query_language(own);
            }
        }
    }

    pub fn state(&self, name: &str) -> Option<&State> {
        self.lookup
            .get_or_init(|| {
                self.states
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .get(name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateType {
    Task,
    Pass,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

/// One state. A single flat struct keeps the engine's field handling uniform; which fields are
/// allowed for which type is the validator's concern.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    #[serde(rename = "Type")]
    pub kind: StateType,
    pub next: Option<String>,
    #[serde(default)]
    pub end: bool,
    pub query_language: Option<QueryLanguage>,

    #[serde(default, deserialize_with = "nullable")]
    pub input_path: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: Option<Option<String>>,
    pub parameters: Option<Value>,
    pub result_selector: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub result: Option<Option<Value>>,
    pub arguments: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub output: Option<Option<Value>>,
    pub assign: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retrier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catcher>,
    pub resource: Option<String>,
    pub timeout_seconds: Option<Value>,
    pub timeout_seconds_path: Option<String>,
    pub heartbeat_seconds: Option<Value>,
    pub heartbeat_seconds_path: Option<String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<ChoiceRule>,
    pub default: Option<String>,
    pub seconds: Option<Value>,
    pub seconds_path: Option<String>,
    pub timestamp: Option<Value>,
    pub timestamp_path: Option<String>,
    pub error: Option<String>,
    pub error_path: Option<String>,
    pub cause: Option<String>,
    pub cause_path: Option<String>,

    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Arc<StateMachine>>,
    pub items: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub items_path: Option<Option<String>>,
    pub item_selector: Option<Value>,
    pub item_processor: Option<Arc<StateMachine>>,
    pub iterator: Option<Arc<StateMachine>>,
    pub max_concurrency: Option<Value>,
    pub max_concurrency_path: Option<String>,
    pub tolerated_failure_count: Option<Value>,
    pub tolerated_failure_count_path: Option<String>,
    pub tolerated_failure_percentage: Option<Value>,
    pub tolerated_failure_percentage_path: Option<String>,

    /// JSONPath templates and paths compiled on first use; not part of the definition's data.
    #[serde(skip)]
    compiled: OnceLock<Box<Compiled>>,
}

/// A JSONPath state's templates and paths in their compiled forms (see [`payload::Template`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub assign: Option<Template>,
    pub input_path: Option<Path>,
    pub output_path: Option<Path>,
    pub result_path: Option<Path>,
}

impl State {
    pub fn language(&self) -> QueryLanguage {
        self.query_language.unwrap_or_default()
    }

    /// The compiled JSONPath templates and paths (empty for JSONata states), built once.
    pub(crate) fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            if self.language() != QueryLanguage::JSONPath {
                return Box::default();
            }
            Box::new(Compiled {
                parameters: self.parameters.as_ref().map(Template::compile),
                result_selector: self.result_selector.as_ref().map(Template::compile),
                assign: self.assign.as_ref().map(Template::compile),
                input_path: payload::precompile_path(&self.input_path),
                output_path: payload::precompile_path(&self.output_path),
                result_path: payload::precompile_path(&self.result_path),
            })
        })
    }

    /// The Map state's iteration machine under either of its names.
    pub fn processor(&self) -> Option<&Arc<StateMachine>> {
        self.item_processor.as_ref().or(self.iterator.as_ref())
    }

    fn processor_mut(&mut self) -> Option<&mut Arc<StateMachine>> {
        match self.item_processor.as_mut() {
            Some(p) => Some(p),
            None => self.iterator.as_mut(),
        }
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: Option<f64>,
    pub max_attempts: Option<u32>,
    pub backoff_rate: Option<f64>,
    pub max_delay_seconds: Option<f64>,
    pub jitter_strategy: Option<String>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub output: Option<Option<Value>>,
    pub assign: Option<Value>,
}

/// Tells an explicit `null` (meaningful for InputPath, ResultPath, …) apart from an absent field.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
