//! `handoff backtest --table` on a deployment's DynamoDB table (moto): the
//! same history as the data-dir backtest, stored through the DynamoDB
//! adapter, read with the caller's credentials from the environment, and
//! the same runs reported as changed.

mod common;

use common::history::{self, RUNS};
use common::*;
use handoff_aws::dynamo::testing::{moto_config, table};
use serde_json::Value;

#[test]
fn the_backtest_reads_a_deployments_table() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(async {
        let store = table(&moto_config().await).await;
        history::seed(&store).await;
        store
    });
    let endpoint = std::env::var("MOTO_ENDPOINT").expect("moto_config checked it");
    let dir = temp_dir("backtest-dynamo");
    let text = std::fs::read_to_string(repo_root().join("workflows/support-triage.yaml")).unwrap();
    let spec = dir.join("candidate.yaml");
    std::fs::write(
        &spec,
        text.replacen("amount.value >= 100.0", "amount.value >= 50.0", 1),
    )
    .unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handoff-under-test"))
        .args(["backtest", "--json", "--table", &store.table, "--spec"])
        .arg(&spec)
        // The caller's credentials, as the SDK finds them; no data dir.
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["runs"], RUNS, "{f}");
    assert_eq!(f["skipped"], 1);
    let expected = history::refunds_in(50.0..100.0);
    let changed = history::changed_ids(&f);
    assert_eq!(changed, expected);
    assert_eq!(
        f["verdicts"],
        (0..RUNS).filter(|i| i.is_multiple_of(4)).count()
    );
}
