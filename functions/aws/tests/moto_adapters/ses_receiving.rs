//! SES receiving as template.yaml sets it up: the receipt rule set and rule
//! created from the template's own properties (bucket, function and
//! recipients resolved to ones made here) are accepted and read back as
//! declared, the rule's S3 prefix is the one the mailbox reads, and the
//! rule set can be activated with the command README gives.

use aws_sdk_ses::types::{
    InvocationType, LambdaAction, ReceiptAction, ReceiptRule, S3Action, TlsPolicy,
};
use handoff_aws::s3::INBOUND_PREFIX;
use serde_json::json;
use serde_yaml_ng::Value;

use crate::support::*;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).expect("template.yaml")).unwrap()
}

/// `!Ref X` / `!GetAtt X.Y` as `("!Ref", "X")`.
fn reference(v: &Value) -> (String, String) {
    match v {
        Value::Tagged(t) => (
            t.tag.to_string(),
            t.value.as_str().expect("a scalar reference").to_string(),
        ),
        other => panic!("expected a reference, found {other:?}"),
    }
}

/// What the template's references stand for in this test.
struct Resolved {
    bucket: String,
    function_arn: String,
    recipients: Vec<String>,
}

/// The template's `InboundMailRule.Rule` as the SES API's rule, every key
/// translated (an unknown one fails, so the test follows the template).
fn rule_from_template(rule: &Value, resolved: &Resolved) -> ReceiptRule {
    let mut builder = ReceiptRule::builder();
    for (key, value) in rule.as_mapping().expect("Rule is a mapping") {
        builder = match key.as_str().unwrap() {
            "Name" => builder.name(value.as_str().unwrap()),
            "Enabled" => builder.enabled(value.as_bool().unwrap()),
            "ScanEnabled" => builder.scan_enabled(value.as_bool().unwrap()),
            "TlsPolicy" => builder.tls_policy(TlsPolicy::from(value.as_str().unwrap())),
            "Recipients" => {
                assert_eq!(
                    reference(value),
                    ("!Ref".into(), "InboundMailRecipients".into())
                );
                builder.set_recipients(Some(resolved.recipients.clone()))
            }
            "Actions" => {
                let actions = value.as_sequence().unwrap().iter();
                builder.set_actions(Some(actions.map(|a| action(a, resolved)).collect()))
            }
            other => panic!("InboundMailRule: translate `{other}` here"),
        };
    }
    builder.build().expect("a complete rule")
}

fn action(action: &Value, resolved: &Resolved) -> ReceiptAction {
    if let Some(s3) = action.get("S3Action") {
        assert_eq!(
            reference(&s3["BucketName"]),
            ("!Ref".into(), "InboundMailBucket".into())
        );
        assert_eq!(s3.as_mapping().unwrap().len(), 2, "{s3:?}");
        return ReceiptAction::builder()
            .s3_action(
                S3Action::builder()
                    .bucket_name(&resolved.bucket)
                    .object_key_prefix(s3["ObjectKeyPrefix"].as_str().unwrap())
                    .build()
                    .unwrap(),
            )
            .build();
    }
    if let Some(lambda) = action.get("LambdaAction") {
        assert_eq!(
            reference(&lambda["FunctionArn"]),
            ("!GetAtt".into(), "IngestFunction.Arn".into())
        );
        assert_eq!(lambda.as_mapping().unwrap().len(), 2, "{lambda:?}");
        return ReceiptAction::builder()
            .lambda_action(
                LambdaAction::builder()
                    .function_arn(&resolved.function_arn)
                    .invocation_type(InvocationType::from(
                        lambda["InvocationType"].as_str().unwrap(),
                    ))
                    .build()
                    .unwrap(),
            )
            .build();
    }
    panic!("InboundMailRule: translate action {action:?} here")
}

/// moto routes by the credential scope of the Authorization header and does
/// not check the signature.
fn auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

fn endpoint() -> String {
    std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT (checked by sdk_config)")
}

/// A stub ingest function (moto checks a rule's function exists; without
/// Docker it never runs code), through the APIs' wire formats: the tests
/// link no IAM or Lambda SDK for this one call each.
async fn stub_function() -> String {
    let http = reqwest::Client::new();
    let role = unique("ingest");
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }]
    });
    let form = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName={role}&AssumeRolePolicyDocument={}",
        url::form_urlencoded::byte_serialize(trust.to_string().as_bytes()).collect::<String>()
    );
    let response = http
        .post(format!("{}/", endpoint()))
        .header("authorization", auth("iam"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("moto answers");
    assert!(response.status().is_success(), "create role: {response:?}");

    // An empty zip archive: the 22-byte end-of-central-directory record.
    let mut empty_zip = vec![0x50, 0x4b, 0x05, 0x06];
    empty_zip.resize(22, 0);
    use base64::Engine as _;
    let body = json!({
        "FunctionName": unique("ingest"),
        "Runtime": "provided.al2023",
        "Role": format!("arn:aws:iam::123456789012:role/{role}"),
        "Handler": "bootstrap",
        "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(empty_zip) },
    });
    let response = http
        .post(format!("{}/2015-03-31/functions", endpoint()))
        .header("authorization", auth("lambda"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("moto answers");
    let status = response.status();
    let created: serde_json::Value =
        serde_json::from_str(&response.text().await.expect("body")).expect("json");
    assert!(status.is_success(), "create function: {status} {created}");
    created["FunctionArn"].as_str().expect("arn").to_string()
}

#[tokio::test]
async fn the_templates_receipt_rule_stores_then_invokes_ingest_and_reads_back() {
    let config = sdk_config().await;
    let resolved = Resolved {
        bucket: bucket(&s3(&config)).await,
        function_arn: stub_function().await,
        recipients: vec!["invoices@buyer.example".into()],
    };
    let template = template();
    let resources = &template["Resources"];
    let declared = &resources["InboundMailRule"]["Properties"]["Rule"];
    let rule = rule_from_template(declared, &resolved);

    let ses = aws_sdk_ses::Client::new(&config);
    // The set's name is `${AWS::StackName}-inbound`: a stack name here.
    let set_name = format!("{}-inbound", unique("handoff"));
    assert_eq!(
        reference(&resources["InboundMailRuleSet"]["Properties"]["RuleSetName"]).1,
        "${AWS::StackName}-inbound"
    );
    ses.create_receipt_rule_set()
        .rule_set_name(&set_name)
        .send()
        .await
        .expect("create rule set");
    ses.create_receipt_rule()
        .rule_set_name(&set_name)
        .rule(rule)
        .send()
        .await
        .expect("SES accepts the rule as the template declares it");

    let read = ses
        .describe_receipt_rule()
        .rule_set_name(&set_name)
        .rule_name("to-ingest")
        .send()
        .await
        .expect("describe rule");
    let rule = read.rule().expect("the rule");
    assert!(rule.enabled());
    assert!(rule.scan_enabled(), "spam and virus verdicts reach ingest");
    assert_eq!(rule.tls_policy(), Some(&TlsPolicy::Require));
    assert_eq!(rule.recipients(), ["invoices@buyer.example"]);
    let actions = rule.actions();
    assert_eq!(actions.len(), 2, "store, then invoke: {actions:?}");
    let stored = actions[0].s3_action().expect("first the S3 action");
    assert_eq!(stored.bucket_name(), resolved.bucket);
    assert_eq!(
        stored.object_key_prefix(),
        Some(INBOUND_PREFIX),
        "the prefix the mailbox reads"
    );
    let invoked = actions[1].lambda_action().expect("then the Lambda action");
    assert_eq!(invoked.function_arn(), resolved.function_arn);
    assert_eq!(invoked.invocation_type(), Some(&InvocationType::Event));

    // README's one command after the first deploy.
    ses.set_active_receipt_rule_set()
        .rule_set_name(&set_name)
        .send()
        .await
        .expect("activate");
    let active = ses
        .describe_active_receipt_rule_set()
        .send()
        .await
        .expect("describe active");
    assert_eq!(
        active.metadata().and_then(|m| m.name()),
        Some(set_name.as_str())
    );
    assert_eq!(active.rules().len(), 1);
}
