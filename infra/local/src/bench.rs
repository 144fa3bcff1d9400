//! `handoff bench`: intake throughput and latency against a bare axum
//! hello-world in the same process and run, and end-to-end runs per second
//! on the no-approval path with the durable SQLite store.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;

use crate::client;
use crate::sign;
use crate::stack::{Options, Stack};
use crate::template::Template;

/// One prepared request: method, path, headers, body.
pub type Request = (String, String, Vec<(String, String)>, Vec<u8>);

#[derive(Debug, Clone)]
pub struct LoadResult {
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// When a load stops.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Sending for this long.
    Elapsed(Duration),
    /// Once this many requests have been sent.
    Sent(usize),
}

/// `connections` keep-alive HTTP/1.1 connections sending back to back
/// until `until`; request `i` is `make(i)`.
pub async fn load(
    addr: std::net::SocketAddr,
    make: Arc<dyn Fn(usize) -> Request + Send + Sync>,
    connections: usize,
    until: Until,
) -> anyhow::Result<LoadResult> {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let more = move |i: usize| match until {
        Until::Elapsed(d) => started.elapsed() < d,
        Until::Sent(n) => i < n,
    };
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (make, counter) = (make.clone(), counter.clone());
        workers.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if !more(i) {
                    break;
                }
                let (method, path, headers, body) = make(i);
                let mut builder = hyper::Request::builder()
                    .method(method.as_str())
                    .uri(path)
                    .header("host", addr.to_string());
                for (k, v) in headers {
                    builder = builder.header(k, v);
                }
                let req = builder.body(Full::new(Bytes::from(body)))?;
                let t0 = Instant::now();
                sender.ready().await?;
                let res = sender.send_request(req).await?;
                let ok = res.status().is_success();
                res.into_body().collect().await?;
                latencies.push(t0.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            Ok::<_, anyhow::Error>((latencies, errors))
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await??;
        all.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    Ok(LoadResult {
        requests: all.len(),
        errors,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

async fn hello_world() -> anyhow::Result<std::net::SocketAddr> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

async fn stack_on(
    data_dir: &Path,
    template: Template,
    background: bool,
) -> anyhow::Result<(Arc<Stack>, std::net::SocketAddr)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut options = Options::new(data_dir, template);
    options.quiet = true;
    let stack = Stack::build(options, &format!("http://{addr}"))?;
    let router = crate::gateway::router(stack.clone())?;
    if background {
        stack.run_background().await?;
    }
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((stack, addr))
}

/// Signed invoice-approval webhooks, each with its own delivery id.
fn webhooks(
    stack: &Stack,
    tag: &str,
) -> anyhow::Result<Arc<dyn Fn(usize) -> Request + Send + Sync>> {
    let workflow = "invoice-approval";
    let wf = stack
        .catalog
        .get(workflow)
        .ok_or_else(|| anyhow!("no {workflow} workflow"))?
        .clone();
    let payload: Value = client::samples()
        .into_iter()
        .find(|(w, _)| w == workflow)
        .map(|(_, p)| p)
        .ok_or_else(|| anyhow!("no sample"))?;
    let secret = stack
        .secrets
        .values()
        .get(&wf.spec.trigger.signature.secret)
        .cloned()
        .ok_or_else(|| anyhow!("no secret"))?;
    let tag = format!("{tag}-{}", Utc::now().timestamp_millis());
    let path = format!("/webhooks/{workflow}");
    Ok(Arc::new(move |i| {
        let mut payload = payload.clone();
        let extra = sign::set_delivery_id(&wf.spec.trigger, &mut payload, &format!("{tag}-{i}"));
        let body = serde_json::to_vec(&payload).expect("JSON");
        let mut headers = sign::signature_headers(
            &wf.spec.trigger,
            &secret,
            &body,
            "127.0.0.1",
            &path,
            Utc::now(),
        );
        headers.extend(extra);
        headers.push(("content-type".into(), "application/json".into()));
        ("POST".into(), path.clone(), headers, body)
    }))
}

/// Waits until `n` executions have finished.
async fn wait_finished(
    mut finished: tokio::sync::broadcast::Receiver<String>,
    n: usize,
) -> anyhow::Result<()> {
    let mut done = 0usize;
    let wait = async {
        while done < n {
            match finished.recv().await {
                Ok(_) => done += 1,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => done += k as usize,
                Err(_) => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(600), wait)
        .await
        .map_err(|_| anyhow!("{n} runs did not finish in 10 minutes"))
}

pub struct BenchOptions {
    pub seconds: u64,
    pub connections: usize,
    pub runs: usize,
    pub template: Template,
}

pub async fn run(o: BenchOptions) -> anyhow::Result<()> {
    let duration = Duration::from_secs(o.seconds);
    let base = std::env::temp_dir().join(format!("handoff-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);

    println!(
        "intake: {} connections for {} s each, on loopback",
        o.connections, o.seconds
    );
    let hello_addr = hello_world().await?;
    let hello_req: Arc<dyn Fn(usize) -> Request + Send + Sync> =
        Arc::new(|_| ("GET".into(), "/".into(), Vec::new(), Vec::new()));
    let hello = load(
        hello_addr,
        hello_req,
        o.connections,
        Until::Elapsed(duration),
    )
    .await?;

    // Intake alone (the starter paused: webhooks verified, stored, queued)
    // and with the whole stack running the runs it accepts.
    let (stack, addr) = stack_on(&base.join("intake"), o.template.clone(), false).await?;
    let intake = load(
        addr,
        webhooks(&stack, "bench")?,
        o.connections,
        Until::Elapsed(duration),
    )
    .await?;
    drop(stack);
    let (stack, addr) = stack_on(&base.join("busy"), o.template.clone(), true).await?;
    let finished = stack.host.subscribe();
    let busy = load(
        addr,
        webhooks(&stack, "busy")?,
        o.connections,
        Until::Elapsed(duration),
    )
    .await?;
    // The runs it accepted would otherwise go on running through the
    // end-to-end measurement below.
    wait_finished(finished, busy.requests - busy.errors).await?;
    drop(stack);
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>7}",
        "", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, r) in [
        ("axum hello-world", &hello),
        ("POST /webhooks (intake)", &intake),
        ("  … while runs execute", &busy),
    ] {
        println!(
            "{:<28} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            name,
            r.per_second(),
            r.p50_ms,
            r.p99_ms,
            r.errors
        );
    }
    println!(
        "intake / hello-world: {:.0}%  (goal ≥ 50%, p99 ≤ 10 ms)",
        100.0 * intake.per_second() / hello.per_second()
    );

    // End to end: N no-approval runs from webhook to finished execution,
    // sent over keep-alive connections as the intake phases are.
    let (stack, addr) = stack_on(&base.join("e2e"), o.template, true).await?;
    let finished = stack.host.subscribe();
    let n = o.runs;
    let started = Instant::now();
    let sent = load(
        addr,
        webhooks(&stack, "e2e")?,
        o.connections,
        Until::Sent(n),
    )
    .await?;
    if sent.errors > 0 {
        return Err(anyhow!("{} of {n} webhooks were refused", sent.errors));
    }
    wait_finished(finished, n).await?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "end to end (no approval, durable SQLite, {} keep-alive connections): {n} runs in {elapsed:.2} s = {:.0} runs/s on {} core(s)  (goal ≥ 1,000/s on 2 cores)",
        o.connections,
        n as f64 / elapsed,
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1)
    );
    drop(stack);
    let _ = std::fs::remove_dir_all(&base);
    Ok(())
}
