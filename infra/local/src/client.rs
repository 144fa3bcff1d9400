//! Talking to a running local stack over HTTP the way a sender and a
//! reviewer would: signed webhooks in, approval links answered. Used by
//! `handoff run`, `handoff demo` and the end-to-end tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use chrono::Utc;
use handoff_spec::Catalog;
use serde_json::Value;

use crate::access;
use crate::adapters::http_call;
use crate::sign;

/// The events/ webhook samples, one per workflow: `(workflow, payload)`.
pub fn samples() -> Vec<(String, Value)> {
    const FILES: [&str; 5] = [
        include_str!("../../../events/webhook-support-triage.json"),
        include_str!("../../../events/webhook-lead-qualification.json"),
        include_str!("../../../events/webhook-invoice-approval.json"),
        include_str!("../../../events/webhook-customer-onboarding.json"),
        include_str!("../../../events/webhook-revops-call-followup.json"),
    ];
    FILES
        .iter()
        .map(|text| {
            let event: Value = serde_json::from_str(text).expect("samples are JSON");
            sample_payload(&event).expect("samples are API Gateway events")
        })
        .collect()
}

/// `(workflow, payload)` of an API Gateway v2 webhook event.
pub fn sample_payload(event: &Value) -> Option<(String, Value)> {
    let workflow = event["pathParameters"]["workflow"].as_str()?.to_string();
    let payload = serde_json::from_str(event["body"].as_str()?).ok()?;
    Some((workflow, payload))
}

/// A status a run does not leave.
pub fn is_final(status: &str) -> bool {
    matches!(status, "COMPLETED" | "REJECTED" | "FAILED")
}

/// Where [`Client::drive`] or [`Client::follow`] left a run: ended, or
/// waiting for approval when no verdict was given.
#[derive(Debug, Clone)]
pub struct Driven {
    pub run_id: String,
    pub status: String,
    /// Reviewer links answered with the verdict.
    pub decided: usize,
}

pub struct Client {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub catalog: std::sync::Arc<Catalog>,
    pub secrets: BTreeMap<String, String>,
}

impl Client {
    fn authority(&self) -> &str {
        self.base
            .split_once("://")
            .map(|(_, a)| a)
            .unwrap_or(&self.base)
    }

    /// Signs `payload` as `workflow`'s sender does, with `delivery_id` where
    /// the spec reads it, and POSTs it: the status and the JSON answer.
    pub async fn webhook(
        &self,
        workflow: &str,
        payload: &Value,
        delivery_id: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let trigger = &self.workflow(workflow)?.spec.trigger;
        let mut payload = payload.clone();
        let extra = delivery_id.and_then(|id| sign::set_delivery_id(trigger, &mut payload, id));
        let body = serde_json::to_vec(&payload)?;
        self.post_signed(workflow, "application/json", body, extra)
            .await
    }

    /// POSTs a raw `message/rfc822` e-mail to `workflow`'s webhook route,
    /// signed like its webhooks: the way a mail relay hands one over.
    pub async fn mail(&self, workflow: &str, message: &[u8]) -> anyhow::Result<(u16, Value)> {
        self.post_signed(workflow, "message/rfc822", message.to_vec(), None)
            .await
    }

    fn workflow(&self, name: &str) -> anyhow::Result<&std::sync::Arc<handoff_spec::Workflow>> {
        self.catalog
            .get(name)
            .ok_or_else(|| anyhow!("no workflow named {name}"))
    }

    async fn post_signed(
        &self,
        workflow: &str,
        content_type: &str,
        body: Vec<u8>,
        extra: Option<(String, String)>,
    ) -> anyhow::Result<(u16, Value)> {
        let trigger = &self.workflow(workflow)?.spec.trigger;
        let secret = self
            .secrets
            .get(&trigger.signature.secret)
            .ok_or_else(|| anyhow!("no local secret {}", trigger.signature.secret))?;
        let path = format!("/webhooks/{workflow}");
        let mut builder = hyper::Request::builder()
            .method("POST")
            .header("content-type", content_type);
        for (k, v) in
            sign::signature_headers(trigger, secret, &body, self.authority(), &path, Utc::now())
                .into_iter()
                .chain(extra)
        {
            builder = builder.header(k, v);
        }
        let (status, bytes) = http_call(&format!("{}{path}", self.base), builder, body)
            .await
            .map_err(|e| anyhow!(e))?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// The run an accepted delivery started.
    fn started(workflow: &str, (status, body): (u16, Value)) -> anyhow::Result<String> {
        if status >= 300 {
            bail!("the delivery for {workflow} was refused: {status} {body}");
        }
        body["run_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("the delivery for {workflow} started no run: {body}"))
    }

    /// [`Client::webhook`] for a webhook that must be accepted: the id of
    /// the run it started.
    pub async fn send(
        &self,
        workflow: &str,
        payload: &Value,
        delivery_id: &str,
    ) -> anyhow::Result<String> {
        Self::started(
            workflow,
            self.webhook(workflow, payload, Some(delivery_id)).await?,
        )
    }

    /// [`Client::mail`] for a message that must be accepted: the id of the
    /// run it started.
    pub async fn send_mail(&self, workflow: &str, message: &[u8]) -> anyhow::Result<String> {
        Self::started(workflow, self.mail(workflow, message).await?)
    }

    /// Sends one webhook and follows its run (see [`Client::follow`]).
    pub async fn drive(
        &self,
        workflow: &str,
        payload: &Value,
        delivery_id: &str,
        verdict: Option<&str>,
        within: Duration,
    ) -> anyhow::Result<Driven> {
        let run_id = self.send(workflow, payload, delivery_id).await?;
        self.follow(&run_id, verdict, within).await
    }

    /// Waits until the run ends or waits for approval; given a verdict
    /// (`approve` / `reject`), answers every reviewer's link with it and
    /// waits for the end. `within` bounds each wait.
    pub async fn follow(
        &self,
        run_id: &str,
        verdict: Option<&str>,
        within: Duration,
    ) -> anyhow::Result<Driven> {
        let awaiting = |s: &str| s == "AWAITING_APPROVAL";
        let mut status = self
            .wait_for(run_id, within, |s| awaiting(s) || is_final(s))
            .await?;
        let mut decided = 0;
        if let (true, Some(verdict)) = (awaiting(&status), verdict) {
            decided = self.decide_when_notified(run_id, verdict, within).await?;
            status = self.wait_for(run_id, within, is_final).await?;
        }
        Ok(Driven {
            run_id: run_id.to_string(),
            status,
            decided,
        })
    }

    /// `Bearer <operator token>` from the data dir's token key: the local
    /// tools read every workflow's runs.
    pub fn authorization(&self) -> anyhow::Result<String> {
        let key = self
            .secrets
            .get(access::TOKEN_SECRET)
            .ok_or_else(|| anyhow!("no local secret {}", access::TOKEN_SECRET))?;
        Ok(format!("Bearer {}", access::operator_token(key).0))
    }

    /// GETs a read route as the local operator.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let builder = hyper::Request::builder()
            .method("GET")
            .header("accept", "application/json")
            .header("authorization", self.authorization()?);
        let (status, bytes) = http_call(&format!("{}{path}", self.base), builder, Vec::new())
            .await
            .map_err(|e| anyhow!(e))?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// The run as the read API reports it (`{"run": …, "audit": …}`).
    pub async fn run(&self, id: &str) -> anyhow::Result<Value> {
        let (status, body) = self.get_json(&format!("/runs/{id}")).await?;
        if status != 200 {
            bail!("GET /runs/{id}: {status} {body}");
        }
        Ok(body)
    }

    pub async fn run_status(&self, id: &str) -> anyhow::Result<String> {
        Ok(self.run(id).await?["run"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Polls until the run's status satisfies `done`; returns that status.
    pub async fn wait_for(
        &self,
        id: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let start = Instant::now();
        loop {
            let status = self.run_status(id).await.unwrap_or_default();
            if done(&status) {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                bail!("run {id} still {status} after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The reviewer links the outbox holds for a run, newest first.
    pub async fn approval_links(&self, run_id: &str) -> anyhow::Result<Vec<String>> {
        let (status, body) = self.get_json("/outbox").await?;
        if status != 200 {
            bail!("GET /outbox: {status} {body}");
        }
        Ok(body["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["run_id"] == run_id)
            .filter_map(|e| e["link"].as_str().map(str::to_string))
            .collect())
    }

    /// The run's reviewer links once at least `count` are out: a run reads
    /// `AWAITING_APPROVAL` a moment before its reviewers are notified.
    pub async fn links_when_notified(
        &self,
        run_id: &str,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<String>> {
        let until = Instant::now() + timeout;
        loop {
            let links = self.approval_links(run_id).await?;
            if links.len() >= count || Instant::now() >= until {
                return Ok(links);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Answers every distinct reviewer's newest link with `verdict`
    /// (`approve` / `reject`) until the approval no longer takes votes.
    /// [`Client::decide_all`] once the links are out: a run reads
    /// `AWAITING_APPROVAL` a moment before its reviewers are notified.
    pub async fn decide_when_notified(
        &self,
        run_id: &str,
        verdict: &str,
        timeout: Duration,
    ) -> anyhow::Result<usize> {
        let until = Instant::now() + timeout;
        loop {
            let answered = self.decide_all(run_id, verdict).await?;
            if answered > 0 || Instant::now() >= until {
                return Ok(answered);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn decide_all(&self, run_id: &str, verdict: &str) -> anyhow::Result<usize> {
        let mut seen = std::collections::HashSet::new();
        let mut answered = 0;
        for link in self.approval_links(run_id).await? {
            let reviewer = link
                .split(['?', '&'])
                .find_map(|p| p.strip_prefix("r="))
                .unwrap_or_default()
                .to_string();
            let approval = link.split('?').next().unwrap_or_default().to_string();
            if !seen.insert((approval, reviewer)) {
                continue;
            }
            let (status, _) = decide(&link, verdict, "decided from the local runtime").await?;
            if status == 200 {
                answered += 1;
            }
            let current = self.run_status(run_id).await.unwrap_or_default();
            if current != "AWAITING_APPROVAL" {
                break;
            }
        }
        Ok(answered)
    }
}

/// GETs a URL that needs no credential (health checks, other servers).
pub async fn get_json(url: &str) -> anyhow::Result<(u16, Value)> {
    let builder = hyper::Request::builder()
        .method("GET")
        .header("accept", "application/json");
    let (status, bytes) = http_call(url, builder, Vec::new())
        .await
        .map_err(|e| anyhow!(e))?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// POSTs the approval form to a reviewer's link, as the page's button does.
pub async fn decide(link: &str, verdict: &str, reason: &str) -> anyhow::Result<(u16, String)> {
    let form = format!(
        "verdict={}&reason={}",
        urlencoding::encode(verdict),
        urlencoding::encode(reason)
    );
    let builder = hyper::Request::builder()
        .method("POST")
        .header("content-type", "application/x-www-form-urlencoded");
    let (status, bytes) = http_call(link, builder, form.into_bytes())
        .await
        .map_err(|e| anyhow!(e))?;
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}
