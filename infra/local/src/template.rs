//! What the local runtime reads from `template.yaml`: the HttpApi routes
//! (from each function's `Events`), the state machine's definition file and
//! `DefinitionSubstitutions`, the intake queue's redrive settings and every
//! function's environment. The template stays the one source of truth; the
//! runtime keeps no second list of routes or functions.
//!
//! CloudFormation's short-form tags (`!Ref`, `!GetAtt`, `!Sub`, …) are kept
//! as [`Intrinsic`]s instead of being rejected by the YAML parser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde_yaml_ng::Value;

/// The repository's template, for a binary started outside a checkout.
pub const EMBEDDED_TEMPLATE: &str = include_str!("../../../template.yaml");
/// The state machine the embedded template names.
pub const EMBEDDED_DEFINITION: (&str, &str) = (
    "infra/statemachine/workflow.asl.json",
    include_str!("../../statemachine/workflow.asl.json"),
);

/// A template value: a literal or an intrinsic function.
#[derive(Debug, Clone, PartialEq)]
pub enum Intrinsic {
    Literal(String),
    Ref(String),
    GetAtt {
        resource: String,
        attribute: String,
    },
    Sub(String),
    /// Any other tag (`!If`, `!Join`, …), kept by name.
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub method: String,
    /// API Gateway syntax, `{name}` for a path parameter (axum's too).
    pub path: String,
    /// The function's logical id, e.g. `IngestFunction`.
    pub function: String,
    /// The event's logical id, e.g. `Webhook`.
    pub event: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: which stage this function runs.
    pub binary: String,
    /// `Globals.Function.Environment` overlaid with the function's own.
    pub environment: BTreeMap<String, Intrinsic>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineDef {
    pub logical_id: String,
    /// Relative to the template's directory.
    pub definition_uri: String,
    pub substitutions: BTreeMap<String, Intrinsic>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueSettings {
    pub visibility_timeout_seconds: u64,
    pub max_receive_count: u32,
}

#[derive(Debug, Clone)]
pub struct Template {
    /// Where the template was read from (`None`: the embedded copy).
    pub dir: Option<PathBuf>,
    pub parameters: BTreeMap<String, Option<String>>,
    pub functions: BTreeMap<String, Function>,
    pub routes: Vec<Route>,
    pub state_machine: StateMachineDef,
    pub queue: QueueSettings,
}

impl Template {
    /// `template.yaml` in `start` or the nearest parent that has one; the
    /// embedded copy when there is none.
    pub fn discover(start: &Path) -> anyhow::Result<Self> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            let candidate = d.join("template.yaml");
            if candidate.is_file() {
                return Self::load(&candidate);
            }
            dir = d.parent();
        }
        Self::parse(EMBEDDED_TEMPLATE, None)
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, Some(dir)).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let doc: Value = serde_yaml_ng::from_str(text).context("template is not YAML")?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| anyhow!("template has no Resources"))?;

        let mut parameters = BTreeMap::new();
        if let Some(params) = doc.get("Parameters").and_then(Value::as_mapping) {
            for (name, spec) in params {
                let default = spec.get("Default").and_then(scalar);
                parameters.insert(key(name)?, default);
            }
        }
        let global_env = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .map(environment)
            .transpose()?
            .unwrap_or_default();

        let mut functions = BTreeMap::new();
        let mut routes = Vec::new();
        let mut state_machine = None;
        let mut queue = None;
        for (id, resource) in resources {
            let id = key(id)?;
            let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
            let props = resource.get("Properties");
            match kind {
                "AWS::Serverless::Function" => {
                    let binary = resource
                        .get("Metadata")
                        .and_then(|m| m.get("BuildProperties"))
                        .and_then(|b| b.get("Binary"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| anyhow!("{id}: no Metadata.BuildProperties.Binary"))?;
                    let mut env = global_env.clone();
                    if let Some(p) = props {
                        env.extend(environment(p)?);
                    }
                    let events = props
                        .and_then(|p| p.get("Events"))
                        .and_then(Value::as_mapping);
                    for (event_id, event) in events.into_iter().flatten() {
                        if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                            continue;
                        }
                        let p = event.get("Properties");
                        let field = |name: &str| {
                            p.and_then(|p| p.get(name))
                                .and_then(Value::as_str)
                                .map(str::to_string)
                                .ok_or_else(|| anyhow!("{id}.Events: HttpApi without {name}"))
                        };
                        routes.push(Route {
                            method: field("Method")?.to_ascii_uppercase(),
                            path: field("Path")?,
                            function: id.clone(),
                            event: key(event_id)?,
                        });
                    }
                    functions.insert(
                        id.clone(),
                        Function {
                            logical_id: id,
                            binary: binary.to_string(),
                            environment: env,
                        },
                    );
                }
                "AWS::Serverless::StateMachine" => {
                    let p = props.ok_or_else(|| anyhow!("{id}: no Properties"))?;
                    let uri = p
                        .get("DefinitionUri")
                        .and_then(Value::as_str)
                        .ok_or_else(|| anyhow!("{id}: only a file DefinitionUri is supported"))?;
                    let mut substitutions = BTreeMap::new();
                    if let Some(subs) = p.get("DefinitionSubstitutions").and_then(Value::as_mapping)
                    {
                        for (name, value) in subs {
                            substitutions.insert(key(name)?, intrinsic(value)?);
                        }
                    }
                    if state_machine.is_some() {
                        bail!("more than one state machine; the local runtime serves one");
                    }
                    state_machine = Some(StateMachineDef {
                        logical_id: id,
                        definition_uri: uri.to_string(),
                        substitutions,
                    });
                }
                "AWS::SQS::Queue" => {
                    // The intake queue is the one with a redrive policy.
                    let Some(redrive) = props.and_then(|p| p.get("RedrivePolicy")) else {
                        continue;
                    };
                    let max_receive_count = redrive
                        .get("maxReceiveCount")
                        .and_then(number)
                        .ok_or_else(|| anyhow!("{id}: RedrivePolicy without maxReceiveCount"))?;
                    let visibility = props
                        .and_then(|p| p.get("VisibilityTimeout"))
                        .and_then(number)
                        .unwrap_or(30);
                    queue = Some(QueueSettings {
                        visibility_timeout_seconds: visibility,
                        max_receive_count: max_receive_count as u32,
                    });
                }
                _ => {}
            }
        }
        Ok(Template {
            dir,
            parameters,
            functions,
            routes,
            state_machine: state_machine.ok_or_else(|| anyhow!("template has no state machine"))?,
            queue: queue.ok_or_else(|| anyhow!("template has no queue with a RedrivePolicy"))?,
        })
    }

    /// The ASL text `DefinitionUri` names.
    pub fn definition_text(&self) -> anyhow::Result<String> {
        let uri = &self.state_machine.definition_uri;
        match &self.dir {
            Some(dir) => {
                let path = dir.join(uri);
                std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))
            }
            None if uri == EMBEDDED_DEFINITION.0 => Ok(EMBEDDED_DEFINITION.1.to_string()),
            None => bail!("the embedded template names {uri}, which is not embedded"),
        }
    }

    /// The function a substitution stands for (`!GetAtt X.Arn` or `!Ref X`).
    pub fn substituted_function(&self, name: &str) -> Option<&Function> {
        match self.state_machine.substitutions.get(name)? {
            Intrinsic::GetAtt { resource, .. } | Intrinsic::Ref(resource) => {
                self.functions.get(resource)
            }
            _ => None,
        }
    }

    /// The function whose binary is `binary`.
    pub fn function_by_binary(&self, binary: &str) -> Option<&Function> {
        self.functions.values().find(|f| f.binary == binary)
    }

    /// A parameter's default, a resource's local stand-in, or the literal.
    pub fn resolve(&self, value: &Intrinsic, local: &LocalValues) -> String {
        match value {
            Intrinsic::Literal(s) => s.clone(),
            Intrinsic::Ref(name) => self.resolve_ref(name, local),
            Intrinsic::GetAtt {
                resource,
                attribute,
            } => {
                if attribute == "Arn" && self.functions.contains_key(resource) {
                    local_function_arn(resource)
                } else {
                    format!("local:{resource}.{attribute}")
                }
            }
            Intrinsic::Sub(text) => {
                // A string built on the API's id is the API's address.
                if text.contains("${HttpApi}") {
                    return local.public_url.clone();
                }
                let mut out = String::new();
                let mut rest = text.as_str();
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let after = &rest[start + 2..];
                    let Some(end) = after.find('}') else {
                        out.push_str(&rest[start..]);
                        rest = "";
                        break;
                    };
                    out.push_str(&self.resolve_ref(&after[..end], local));
                    rest = &after[end + 1..];
                }
                out.push_str(rest);
                out
            }
            Intrinsic::Other(tag) => format!("local:{tag}"),
        }
    }

    fn resolve_ref(&self, name: &str, local: &LocalValues) -> String {
        if let Some(value) = local.overrides.get(name) {
            return value.clone();
        }
        match name {
            "AWS::Region" => return "local".into(),
            "AWS::AccountId" => return "000000000000".into(),
            "AWS::Partition" => return "aws".into(),
            "AWS::URLSuffix" => return "localhost".into(),
            "AWS::StackName" => return "handoff-local".into(),
            "HttpApi" => return local.public_url.clone(),
            _ => {}
        }
        if let Some(default) = self.parameters.get(name) {
            return default.clone().unwrap_or_default();
        }
        format!("local:{name}")
    }

    /// A function's environment with every value resolved locally.
    pub fn environment(&self, function: &str, local: &LocalValues) -> BTreeMap<String, String> {
        self.functions
            .get(function)
            .map(|f| {
                f.environment
                    .iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v, local)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What the template's references mean on this machine.
#[derive(Debug, Clone, Default)]
pub struct LocalValues {
    /// Where reviewers open links: the local gateway.
    pub public_url: String,
    /// Parameter or resource name → value, ahead of the template's defaults.
    pub overrides: BTreeMap<String, String>,
}

/// The ARN a substituted `!GetAtt Function.Arn` becomes locally.
pub fn local_function_arn(logical_id: &str) -> String {
    format!("arn:aws:lambda:local:000000000000:function:{logical_id}")
}

fn key(value: &Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("expected a string key, found {value:?}"))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn environment(props: &Value) -> anyhow::Result<BTreeMap<String, Intrinsic>> {
    let mut out = BTreeMap::new();
    if let Some(vars) = props
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
    {
        for (name, value) in vars {
            out.insert(key(name)?, intrinsic(value)?);
        }
    }
    Ok(out)
}

fn intrinsic(value: &Value) -> anyhow::Result<Intrinsic> {
    Ok(match value {
        Value::Tagged(tagged) => {
            let inner = scalar(&tagged.value).unwrap_or_default();
            let tag = tagged.tag.to_string();
            match tag.as_str() {
                "!Ref" => Intrinsic::Ref(inner),
                "!GetAtt" => {
                    let (resource, attribute) = inner
                        .split_once('.')
                        .ok_or_else(|| anyhow!("!GetAtt {inner}: expected Resource.Attribute"))?;
                    Intrinsic::GetAtt {
                        resource: resource.to_string(),
                        attribute: attribute.to_string(),
                    }
                }
                "!Sub" => Intrinsic::Sub(inner),
                _ => Intrinsic::Other(tag),
            }
        }
        Value::Mapping(map) if map.len() == 1 => {
            // The long form: { Ref: X } / { "Fn::GetAtt": [X, Arn] } / { "Fn::Sub": … }.
            let (k, v) = map.iter().next().expect("one entry");
            match (k.as_str(), v) {
                (Some("Ref"), v) => Intrinsic::Ref(scalar(v).unwrap_or_default()),
                (Some("Fn::GetAtt"), Value::Sequence(parts)) if parts.len() == 2 => {
                    Intrinsic::GetAtt {
                        resource: scalar(&parts[0]).unwrap_or_default(),
                        attribute: scalar(&parts[1]).unwrap_or_default(),
                    }
                }
                (Some("Fn::Sub"), v) => Intrinsic::Sub(scalar(v).unwrap_or_default()),
                (Some(other), _) => Intrinsic::Other(other.to_string()),
                (None, _) => Intrinsic::Other("mapping".into()),
            }
        }
        other => Intrinsic::Literal(scalar(other).unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        Template::parse(EMBEDDED_TEMPLATE, None).expect("the repository's template parses")
    }

    #[test]
    fn routes_come_from_function_events() {
        let t = template();
        let has = |method: &str, path: &str, function: &str| {
            t.routes
                .iter()
                .any(|r| r.method == method && r.path == path && r.function == function)
        };
        assert!(has("POST", "/webhooks/{workflow}", "IngestFunction"));
        assert!(has("GET", "/approvals/{id}", "CallbackFunction"));
        assert!(has("POST", "/approvals/{id}", "CallbackFunction"));
        assert!(has("GET", "/audits/{id}", "CallbackFunction"));
        assert!(has("POST", "/audits/{id}", "CallbackFunction"));
        assert!(has("GET", "/", "ApiFunction"));
        assert!(has("POST", "/runs/{id}/feedback", "ApiFunction"));
    }

    #[test]
    fn substitutions_name_stage_functions() {
        let t = template();
        let binaries: Vec<&str> = t
            .state_machine
            .substitutions
            .keys()
            .map(|k| t.substituted_function(k).expect(k).binary.as_str())
            .collect();
        for stage in ["context", "reason", "decide", "approval", "act", "finalize"] {
            assert!(
                binaries.contains(&stage),
                "{stage} missing from {binaries:?}"
            );
        }
        let asl = t.definition_text_embedded_or_repo();
        assert!(asl.contains("${ContextFunctionArn}"));
    }

    #[test]
    fn queue_settings_come_from_the_redrive_policy() {
        let q = template().queue;
        assert_eq!(q.max_receive_count, 5);
        assert_eq!(q.visibility_timeout_seconds, 60);
    }

    #[test]
    fn environment_resolves_to_local_values() {
        let t = template();
        let local = LocalValues {
            public_url: "http://127.0.0.1:3000".into(),
            ..Default::default()
        };
        let env = t.environment("ApprovalFunction", &local);
        assert_eq!(env["HANDOFF_PUBLIC_URL"], "http://127.0.0.1:3000");
        assert_eq!(env["HANDOFF_LINK_SECRET"], "approval-links");
        assert_eq!(env["HANDOFF_APPROVAL_TIMEOUT_SECONDS"], "86400");
        assert_eq!(env["HANDOFF_STAGE"], "dev");
    }

    #[test]
    fn long_form_intrinsics_are_understood() {
        let yaml = r#"
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: context } }
  Q:
    Type: AWS::SQS::Queue
    Properties: { RedrivePolicy: { maxReceiveCount: 3 } }
  SM:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: sm.json
      DefinitionSubstitutions:
        A: { "Fn::GetAtt": [Fn, Arn] }
"#;
        let t = Template::parse(yaml, None).unwrap();
        assert_eq!(t.substituted_function("A").unwrap().binary, "context");
        assert_eq!(t.queue.max_receive_count, 3);
        assert_eq!(t.queue.visibility_timeout_seconds, 30);
    }

    impl Template {
        fn definition_text_embedded_or_repo(&self) -> String {
            self.definition_text().unwrap()
        }
    }
}
