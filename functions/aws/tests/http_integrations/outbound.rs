//! The outbound guards in the adapters, against real servers on loopback:
//! plain http and private addresses need an opt-in, the address check runs
//! after DNS, redirects stay on their origin, replies are read to a cap and
//! errors keep URLs out of the audit trail.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use handoff_aws::http_fetch::HttpFetcher;
use handoff_aws::outbound::OutboundPolicy;
use handoff_core::ports::{FetchRequest, Fetcher};
use handoff_core::testing::Harness;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::actions::{act, act_with, decided, record};
use crate::support::*;

fn one_webhook(url: &str) -> String {
    format!(
        "  - {{ name: hook, type: webhook, url: \"{url}\", secret: integration/outbound, body: '{{}}' }}\n"
    )
}

/// A harness whose one action is the webhook `hook`, posting to `url`;
/// `extra` is the spec's other top-level YAML (here its `outbound:`).
fn hook_harness(url: &str, extra: &str) -> Harness {
    harness("  lookups: []", &one_webhook(url), &["hook"], extra)
}

async fn ok_server() -> Server {
    Server::start(|_, _| Reply::status(200)).await
}

#[tokio::test]
async fn a_loopback_target_the_spec_does_not_name_is_refused_without_a_call() {
    let receiver = ok_server().await;
    let h = hook_harness(&format!("{}/hook", receiver.url), "outbound: {}");
    let run = decided(&h, "run-no-opt-in", &["hook"]).await;
    let err = act(&h).run(&run).await.unwrap_err();
    assert!(err.to_string().contains("allow_private_hosts"), "{err}");
    let r = record(&h, &run, "hook").await;
    assert!(!r.succeeded);
    assert_eq!(r.attempts, 0, "a refusal is not retried");
    assert!(receiver.hits("/hook").is_empty());
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_after_dns_unless_named() {
    let receiver = ok_server().await;
    let url = receiver.url.replace("127.0.0.1", "localhost");
    // The spec names 127.0.0.1, not `localhost`: the address `localhost`
    // resolves to is checked, whatever the URL's text says.
    let h = hook_harness(&format!("{url}/hook"), "");
    let run = decided(&h, "run-dns", &["hook"]).await;
    let err = act(&h).run(&run).await.unwrap_err();
    assert!(err.to_string().contains("allow_private_hosts"), "{err}");
    assert_eq!(
        record(&h, &run, "hook").await.attempts,
        1,
        "refused, not retried"
    );
    assert!(receiver.hits("/hook").is_empty());

    let h = hook_harness(
        &format!("{url}/hook"),
        "outbound: { allow_private_hosts: [localhost] }",
    );
    let run = decided(&h, "run-dns-named", &["hook"]).await;
    act(&h).run(&run).await.unwrap();
    assert_eq!(receiver.hits("/hook").len(), 1);
}

#[tokio::test]
async fn plain_http_is_refused_unless_the_process_opts_in() {
    let receiver = ok_server().await;
    let h = hook_harness(&format!("{}/hook", receiver.url), "");
    let run = decided(&h, "run-http", &["hook"]).await;
    // What the Lambdas build: https only.
    let aws = OutboundPolicy::for_catalog(&h.catalog);
    let err = act_with(&h, aws).run(&run).await.unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    assert!(receiver.hits("/hook").is_empty());
}

#[tokio::test]
async fn a_redirect_is_followed_on_its_origin_only() {
    let elsewhere = ok_server().await;
    let other_origin = elsewhere.url.replace("127.0.0.1", "localhost");
    let target = format!("{other_origin}/stolen");
    let receiver = Server::start(move |req, _| match req.path.as_str() {
        "/moved" => Reply {
            location: Some("/hook".into()),
            ..Reply::status(307)
        },
        "/away" => Reply {
            location: Some(target.clone()),
            ..Reply::status(307)
        },
        _ => Reply::status(200),
    })
    .await;
    let actions = format!(
        "{}{}",
        one_webhook(&format!("{}/moved", receiver.url)),
        one_webhook(&format!("{}/away", receiver.url)).replace("name: hook", "name: away"),
    );
    let h = harness(
        "  lookups: []",
        &actions,
        &["hook", "away"],
        "outbound: { allow_private_hosts: [127.0.0.1, localhost] }",
    );
    let run = decided(&h, "run-redirect", &["hook"]).await;
    act(&h).run(&run).await.unwrap();
    assert_eq!(receiver.hits("/hook").len(), 1, "same origin: followed");

    let run = decided(&h, "run-redirect-away", &["away"]).await;
    let err = act(&h).run(&run).await.unwrap_err();
    assert!(err.to_string().contains("307"), "{err}");
    assert!(
        elsewhere.hits("/stolen").is_empty(),
        "another origin: not followed"
    );
}

/// A receiver that answers 200 and then streams its body for ever.
async fn endless_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head =
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                while socket.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    url
}

#[tokio::test]
async fn an_action_reply_is_read_no_further_than_the_cap() {
    let url = endless_receiver().await;
    let h = hook_harness(&format!("{url}/hook"), "");
    let run = decided(&h, "run-endless", &["hook"]).await;
    let t0 = Instant::now();
    act(&h).run(&run).await.unwrap();
    // The sink's per-attempt timeout is 2 s: reading to the end would hit it.
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    let r = record(&h, &run, "hook").await;
    assert!(r.response_excerpt.unwrap().starts_with("xxxx"));
}

#[tokio::test]
async fn a_failed_call_keeps_its_url_out_of_the_record() {
    // Nothing listens on port 1; the path stands for a credential.
    let h = hook_harness("http://127.0.0.1:1/services/T0/B0/secret-token", "");
    let run = decided(&h, "run-no-url", &["hook"]).await;
    let err = act(&h).run(&run).await.unwrap_err();
    let r = record(&h, &run, "hook").await;
    let excerpt = r.response_excerpt.unwrap();
    assert!(!excerpt.contains("secret-token"), "{excerpt}");
    assert!(!err.to_string().contains("secret-token"), "{err}");
}

#[tokio::test]
async fn a_lookup_of_the_metadata_endpoint_is_refused_before_connecting() {
    let fetcher = HttpFetcher::new(OutboundPolicy::default().allowing_http()).unwrap();
    let err = fetcher
        .get(&FetchRequest {
            url: "http://169.254.169.254/latest/meta-data/iam/".into(),
            headers: BTreeMap::new(),
            timeout: Duration::from_secs(5),
            max_body_bytes: 1024,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("allow_private_hosts"), "{err}");
}
