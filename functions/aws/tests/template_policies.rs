//! Every AWS call a function can make is allowed by its policy in
//! template.yaml. The calls are read from the adapters' source (each SDK
//! operation an adapter module invokes) and the adapters from each
//! function's source (`handoff_aws::<module>`), so a new SDK call or a new
//! adapter in a function fails here until the template grants it, instead
//! of failing on its first invocation in AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_yaml_ng::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The IAM service prefix of each adapter module that calls AWS.
const SERVICES: [(&str, &str); 8] = [
    ("dynamo", "dynamodb"),
    ("sfn", "states"),
    ("sqs", "sqs"),
    ("secrets", "secretsmanager"),
    ("ses", "ses"),
    ("bedrock", "bedrock"),
    ("s3", "s3"),
    ("textract", "textract"),
];

/// SDK operation (the client's method) → IAM actions it needs. A
/// transaction is authorised per item, so its item kinds are read apart.
fn actions_of(operation: &str) -> Option<&'static [&'static str]> {
    Some(match operation {
        "get_item" | "transact_get_items" => &["GetItem"],
        "put_item" => &["PutItem"],
        "update_item" => &["UpdateItem"],
        "delete_item" => &["DeleteItem"],
        "query" => &["Query"],
        "scan" => &["Scan"],
        "batch_get_item" => &["BatchGetItem"],
        "batch_write_item" => &["BatchWriteItem"],
        "transact_write_items" => &[],
        "start_execution" => &["StartExecution"],
        "send_task_success" => &["SendTaskSuccess"],
        "send_message" | "send_message_batch" => &["SendMessage"],
        "get_secret_value" => &["GetSecretValue"],
        "send_email" => &["SendEmail"],
        "converse" | "invoke_model" => &["InvokeModel"],
        "converse_stream" => &["InvokeModelWithResponseStream"],
        "put_object" => &["PutObject"],
        // Without ListBucket, S3 answers a missing key with 403, and the
        // adapters could not tell an expired document from a denied one.
        "get_object" => &["GetObject", "ListBucket"],
        "head_object" => &["GetObject", "ListBucket"],
        "analyze_expense" => &["AnalyzeExpense"],
        _ => return None,
    })
}

/// Calls an adapter can make that a function holding it never makes, and is
/// not allowed to: the context and reason stages, the read side and the
/// callback hold the document store to read a run's documents (the stage's
/// text and OCR, the pages a model is shown, the run and approval pages);
/// only ingest stores them.
const NEVER_CALLED: [(&str, &str); 4] = [
    ("context", "s3:PutObject"),
    ("reason", "s3:PutObject"),
    ("api", "s3:PutObject"),
    ("callback", "s3:PutObject"),
];

/// Items a DynamoDB transaction may carry → the action each needs.
const TRANSACT_ITEMS: [(&str, &str); 4] = [
    ("Put::builder", "PutItem"),
    ("Update::builder", "UpdateItem"),
    ("ConditionCheck::builder", "ConditionCheckItem"),
    ("Delete::builder", "DeleteItem"),
];

/// A file's text up to its unit tests.
fn without_tests(text: String) -> String {
    match text.find("#[cfg(test)]") {
        Some(tests) => text[..tests].to_string(),
        None => text,
    }
}

fn rust_sources(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                text.push_str(&without_tests(std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    text
}

/// The source of adapter module `m` without its unit tests.
/// Module `m`'s code: `m.rs`, `m/` (its submodules), or both.
fn module_source(m: &str) -> String {
    let src = repo().join("functions/aws/src");
    let mut source = std::fs::read_to_string(src.join(format!("{m}.rs")))
        .map(without_tests)
        .unwrap_or_default();
    if src.join(m).is_dir() {
        source.push_str(&rust_sources(&src.join(m)));
    }
    assert!(!source.is_empty(), "no source for adapter `{m}`");
    source
}

/// `service:Action` for every SDK call module `m` makes.
fn adapter_actions(m: &str, service: &str) -> BTreeSet<String> {
    let source = module_source(m);
    let call = Regex::new(r"\.([a-z_]+)\(\)").unwrap();
    let mut actions = BTreeSet::new();
    for cap in call.captures_iter(&source) {
        let Some(needed) = actions_of(&cap[1]) else {
            continue;
        };
        actions.extend(needed.iter().map(|a| format!("{service}:{a}")));
        if &cap[1] == "transact_write_items" {
            for (item, action) in TRANSACT_ITEMS {
                if source.contains(item) {
                    actions.insert(format!("{service}:{action}"));
                }
            }
        }
    }
    assert!(!actions.is_empty(), "no SDK call found in adapter `{m}`");
    actions
}

/// Adapter modules a function's crate names (`handoff_aws::<module>`).
fn adapters_of(function: &str) -> BTreeSet<String> {
    let source = rust_sources(&repo().join("functions").join(function).join("src"));
    let single = Regex::new(r"handoff_aws::([a-z_]+)").unwrap();
    let grouped = Regex::new(r"handoff_aws::\{([^}]*)\}").unwrap();
    let mut modules: BTreeSet<String> = single
        .captures_iter(&source)
        .map(|c| c[1].to_string())
        .collect();
    for group in grouped.captures_iter(&source) {
        for item in group[1].split(',') {
            if let Some(m) = item.trim().split("::").next().filter(|m| !m.is_empty()) {
                modules.insert(m.to_string());
            }
        }
    }
    modules
}

/// Starting an execution needs the state machine's ARN, which only the
/// functions that start runs are given (`HANDOFF_STATE_MACHINE_ARN`); the
/// others hold the adapter to answer task tokens only.
fn step_functions_actions(function: &str, all: BTreeSet<String>) -> BTreeSet<String> {
    let source = rust_sources(&repo().join("functions").join(function).join("src"));
    let starts = source.contains("HANDOFF_STATE_MACHINE_ARN");
    all.into_iter()
        .filter(|a| (a == "states:StartExecution") == starts)
        .collect()
}

/// The statements of a function resource's policies.
fn statements(function: &Value) -> impl Iterator<Item = &Value> {
    function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
}

/// The statements of a function resource's policies that allow.
fn allowing(function: &Value) -> impl Iterator<Item = &Value> {
    statements(function).filter(|s| s["Effect"] == "Allow")
}

/// Each function's binary → the actions its policies allow.
fn template_policies() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let template: Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its binary")
            .to_string();
        let mut allowed = BTreeSet::new();
        for statement in allowing(resource) {
            match &statement["Action"] {
                Value::String(a) => {
                    allowed.insert(a.clone());
                }
                Value::Sequence(list) => {
                    allowed.extend(list.iter().filter_map(|a| a.as_str().map(String::from)));
                }
                other => panic!("{binary}: unexpected Action {other:?}"),
            }
        }
        out.insert(binary, allowed);
    }
    out
}

#[test]
fn every_sdk_call_a_function_makes_is_allowed_by_its_policy() {
    let policies = template_policies();
    assert!(policies.len() >= 11, "{:?}", policies.keys());
    let mut missing = Vec::new();
    for (function, allowed) in &policies {
        for module in adapters_of(function) {
            let Some((_, service)) = SERVICES.iter().find(|(m, _)| *m == module) else {
                continue;
            };
            let mut needed = adapter_actions(&module, service);
            if module == "sfn" {
                needed = step_functions_actions(function, needed);
            }
            for action in needed {
                if NEVER_CALLED.contains(&(function.as_str(), action.as_str())) {
                    continue;
                }
                if !allowed.contains(&action) {
                    missing.push(format!("{function}: {action} (adapter `{module}`)"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "template.yaml does not allow:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_adapter_scan_finds_known_calls() {
    let dynamo = adapter_actions("dynamo", "dynamodb");
    for action in ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"] {
        assert!(dynamo.contains(action), "{dynamo:?}");
    }
    assert!(adapters_of("starter").contains("dynamo"));
    assert!(adapters_of("reason").contains("bedrock"));
    let s3 = adapter_actions("s3", "s3");
    for action in ["s3:PutObject", "s3:GetObject", "s3:ListBucket"] {
        assert!(s3.contains(action), "{s3:?}");
    }
    assert_eq!(
        adapter_actions("textract", "textract"),
        BTreeSet::from(["textract:AnalyzeExpense".to_string()])
    );
}

fn template() -> Value {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// A `!Sub "…"` or plain string, as written.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => text_of(&t.value),
        other => format!("{other:?}"),
    }
}

fn functions(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// The functions whose policies let them read the secret `name` (a
/// parameter, as in `${SecretPrefix}${LinkSecretName}-??????`).
fn readers_of(template: &Value, name: &str) -> Vec<String> {
    let secret = format!("${{SecretPrefix}}${{{name}}}-??????");
    let mut readers = Vec::new();
    for (function_name, function) in functions(template) {
        let statements: Vec<&Value> = statements(&function)
            .filter(|s| text_of(&s["Action"]).contains("secretsmanager:GetSecretValue"))
            .collect();
        let resources = |effect: &str| -> Vec<String> {
            statements
                .iter()
                .filter(|s| s["Effect"] == effect)
                .flat_map(|s| match &s["Resource"] {
                    Value::Sequence(items) => items.iter().map(text_of).collect(),
                    one => vec![text_of(one)],
                })
                .collect()
        };
        let denied = resources("Deny").iter().any(|r| r.ends_with(&secret));
        let allowed = resources("Allow")
            .iter()
            .any(|r| r.ends_with(&secret) || r.ends_with("${SecretPrefix}*"));
        if allowed && !denied {
            readers.push(function_name);
        }
    }
    readers.sort();
    readers
}

#[test]
fn only_the_functions_that_sign_or_check_links_can_read_the_link_secret() {
    assert_eq!(
        readers_of(&template(), "LinkSecretName"),
        ["ApprovalFunction", "CallbackFunction"],
        "signing approval links (approval) and checking them (callback)"
    );
}

#[test]
fn only_the_api_function_can_read_the_reviewer_token_key() {
    assert_eq!(readers_of(&template(), "TokenSecretName"), ["ApiFunction"]);
}

#[test]
fn every_function_keeps_its_logs_for_a_bounded_time() {
    let template = template();
    for (name, _) in functions(&template) {
        let group = &template["Resources"][format!("{name}Logs").as_str()];
        assert_eq!(
            group["Type"], "AWS::Logs::LogGroup",
            "{name} has a log group"
        );
        assert_eq!(
            text_of(&group["Properties"]["LogGroupName"]),
            format!("/aws/lambda/${{{name}}}"),
            "{name}: the group Lambda writes to"
        );
        assert!(
            !group["Properties"]["RetentionInDays"].is_null(),
            "{name}: logs expire"
        );
    }
}

#[test]
fn every_route_that_shows_run_data_passes_the_reviewer_token_authorizer() {
    let template = template();
    let authorizer =
        &template["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]["ReviewerToken"];
    assert_eq!(text_of(&authorizer["FunctionArn"]), "ApiFunction.Arn");
    assert_eq!(authorizer["EnableFunctionDefaultPermissions"], true);
    let events = &template["Resources"]["ApiFunction"]["Properties"]["Events"];
    let mut open = Vec::new();
    for (name, event) in events.as_mapping().unwrap() {
        let path = event["Properties"]["Path"].as_str().unwrap();
        let guarded = event["Properties"]["Auth"]["Authorizer"] == "ReviewerToken";
        if !guarded {
            open.push(path.to_string());
        }
        if path == "/" || path.starts_with("/runs") || path.starts_with("/tokens") {
            assert!(guarded, "{} {path} shows run data", name.as_str().unwrap());
        }
    }
    open.sort();
    assert_eq!(
        open,
        ["/login", "/login", "/logout"],
        "only sign-in is open"
    );
}

#[test]
fn the_ingest_function_reads_webhook_and_document_link_secrets_and_nothing_else() {
    let template = template();
    let resources: Vec<String> = allowing(&template["Resources"]["IngestFunction"])
        .filter(|s| text_of(&s["Action"]).contains("secretsmanager:"))
        .flat_map(|s| match &s["Resource"] {
            Value::Sequence(many) => many.iter().map(text_of).collect(),
            one => vec![text_of(one)],
        })
        .collect();
    let suffixes = [
        handoff_spec::TRIGGER_SECRET_SUFFIX,
        handoff_spec::DOCUMENT_SECRET_SUFFIX,
    ];
    let expected: Vec<String> = suffixes
        .iter()
        .map(|suffix| format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{SecretPrefix}}*{suffix}-??????"))
        .collect();
    assert_eq!(resources, expected);
    // Every seed's trigger secret is one of those.
    let catalog = handoff_workflows::catalog();
    for name in catalog.names() {
        let secret = &catalog.get(name).unwrap().spec.trigger.signature.secret;
        assert!(secret.ends_with(suffixes[0]), "{name}: {secret}");
    }
}

#[test]
fn every_function_that_lists_feedback_may_query_the_table_indexes() {
    // The DynamoDB store lists feedback through the ByStatus index.
    let template = template();
    for name in ["ReasonFunction", "AccuracyReviewFunction", "ApiFunction"] {
        let queries_indexes = allowing(&template["Resources"][name])
            .filter(|s| text_of(&s["Action"]).contains("dynamodb:Query"))
            .flat_map(|s| s["Resource"].as_sequence().cloned().unwrap_or_default())
            .any(|r| text_of(&r) == "${Table.Arn}/index/*");
        assert!(queries_indexes, "{name} cannot query the table's indexes");
    }
}

/// The functions whose policies allow `action` on a resource written as
/// `resource` (e.g. `${DocumentsBucket.Arn}/*`).
fn allowed_on(template: &Value, action: &str, resource: &str) -> Vec<String> {
    let mut names: Vec<String> = functions(template)
        .into_iter()
        .filter(|(_, f)| {
            allowing(f).any(|s| {
                let actions = match &s["Action"] {
                    Value::Sequence(list) => list.iter().map(text_of).collect(),
                    one => vec![text_of(one)],
                };
                let resources = match &s["Resource"] {
                    Value::Sequence(list) => list.iter().map(text_of).collect(),
                    one => vec![text_of(one)],
                };
                actions.iter().any(|a| a == action) && resources.iter().any(|r| r == resource)
            })
        })
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names
}

#[test]
fn only_ingest_stores_documents_and_the_readers_read_them() {
    let template = template();
    let objects = "${DocumentsBucket.Arn}/*";
    assert_eq!(
        allowed_on(&template, "s3:PutObject", objects),
        ["IngestFunction"]
    );
    assert_eq!(
        allowed_on(&template, "s3:GetObject", objects),
        ["CallbackFunction", "ContextFunction", "ReasonFunction"],
        "the context stage reads documents, the reason stage shows them to models, \
         the approval page shows them"
    );
    assert_eq!(
        allowed_on(&template, "s3:ListBucket", "DocumentsBucket.Arn"),
        ["CallbackFunction", "ContextFunction", "ReasonFunction"],
        "an expired document is not found, not denied"
    );
    assert_eq!(
        allowed_on(&template, "textract:AnalyzeExpense", "*"),
        ["ContextFunction"]
    );
}

#[test]
fn both_buckets_are_private_encrypted_and_expire() {
    let template = template();
    for name in ["DocumentsBucket", "InboundMailBucket"] {
        let bucket = &template["Resources"][name];
        assert_eq!(bucket["Type"], "AWS::S3::Bucket");
        assert_eq!(bucket["DeletionPolicy"], "Retain", "{name}");
        let p = &bucket["Properties"];
        let block = &p["PublicAccessBlockConfiguration"];
        for setting in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(block[setting], true, "{name}: {setting}");
        }
        assert_eq!(
            p["OwnershipControls"]["Rules"][0]["ObjectOwnership"], "BucketOwnerEnforced",
            "{name}"
        );
        // What the S3 adapter also asks for on every put.
        assert_eq!(
            p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                ["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
            "AES256",
            "{name}"
        );
        assert!(
            p["VersioningConfiguration"].is_null(),
            "{name}: unversioned"
        );
        let rule = &p["LifecycleConfiguration"]["Rules"][0];
        assert_eq!(rule["Status"], "Enabled", "{name}");
        assert!(
            !rule["ExpirationInDays"].is_null(),
            "{name}: objects expire"
        );
    }
    let documents = &template["Resources"]["DocumentsBucket"]["Properties"];
    assert_eq!(
        text_of(&documents["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"]),
        "DocumentRetentionDays"
    );
    assert_eq!(
        template["Parameters"]["DocumentRetentionDays"]["Default"],
        400
    );
}

#[test]
fn ses_may_write_received_mail_and_invoke_ingest_for_this_accounts_rule_only() {
    let template = template();
    let resources = &template["Resources"];
    let rule_arn = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:receipt-rule-set/${AWS::StackName}-inbound:receipt-rule/to-ingest";
    let statements = resources["InboundMailBucketPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"]
        .as_sequence()
        .unwrap();
    let ses: Vec<&Value> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(ses.len(), 1, "one grant: {ses:?}");
    let ses = ses[0];
    assert_eq!(ses["Principal"]["Service"], "ses.amazonaws.com");
    assert_eq!(ses["Action"], "s3:PutObject");
    assert_eq!(
        text_of(&ses["Resource"]),
        "${InboundMailBucket.Arn}/inbound/*"
    );
    let condition = &ses["Condition"]["StringEquals"];
    assert_eq!(text_of(&condition["aws:SourceAccount"]), "AWS::AccountId");
    assert_eq!(text_of(&condition["aws:SourceArn"]), rule_arn);

    let permission = &resources["IngestFromSesPermission"];
    assert_eq!(permission["Condition"], "HasInboundMail");
    assert_eq!(permission["Properties"]["Principal"], "ses.amazonaws.com");
    assert_eq!(
        text_of(&permission["Properties"]["SourceAccount"]),
        "AWS::AccountId"
    );
    assert_eq!(text_of(&permission["Properties"]["SourceArn"]), rule_arn);

    let rule = &resources["InboundMailRule"];
    assert_eq!(rule["Condition"], "HasInboundMail");
    let depends: Vec<&str> = rule["DependsOn"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        depends.contains(&"InboundMailBucketPolicy")
            && depends.contains(&"IngestFromSesPermission"),
        "SES checks both when it saves the rule: {depends:?}"
    );
    assert_eq!(rule["Properties"]["Rule"]["Name"], "to-ingest");
    assert_eq!(
        text_of(&resources["InboundMailRuleSet"]["Properties"]["RuleSetName"]),
        "${AWS::StackName}-inbound"
    );
    // Where the rule puts messages is where ingest may read them.
    let prefix = rule["Properties"]["Rule"]["Actions"][0]["S3Action"]["ObjectKeyPrefix"]
        .as_str()
        .unwrap();
    assert_eq!(
        allowed_on(
            &template,
            "s3:GetObject",
            &format!("${{InboundMailBucket.Arn}}/{prefix}*")
        ),
        ["IngestFunction"]
    );
}
