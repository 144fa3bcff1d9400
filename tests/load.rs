//! 1,000 webhooks through the real binary: 1,000 runs, each accounted for.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tokio::sync::Semaphore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_webhooks_are_a_thousand_runs() {
    let dir = temp_dir("load");
    let up = Up::start(&UpOptions::new(&dir));
    let client = Arc::new(up.client());
    let payload = Arc::new(sample("invoice-approval"));
    let permits = Arc::new(Semaphore::new(32));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (client, payload) = (client.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let (status, body) = client
                .webhook("invoice-approval", &payload, Some(&format!("load-{i}")))
                .await
                .unwrap();
            assert_eq!(status, 202, "{body}");
            body["run_id"].as_str().unwrap().to_string()
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap());
    }
    assert_eq!(ids.len(), 1000);
    let accepted = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let runs = all_runs(&client).await;
        let done = runs
            .iter()
            .filter(|r| r["status"] == "COMPLETED" || r["status"] == "FAILED")
            .count();
        if runs.len() == 1000 && done == 1000 {
            assert!(runs.iter().all(|r| r["status"] == "COMPLETED"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} runs listed, {done} finished",
            runs.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "1000 webhooks accepted in {accepted:?}, all runs completed in {:?}",
        started.elapsed()
    );
}
