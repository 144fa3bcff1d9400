//! [`ActionSink`] over HTTP for `webhook`, `slack` and `http` actions, with
//! `email` handed to a [`Mailer`]. Requests go out exactly as rendered; the
//! sink only decides whether and when to try again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use handoff_core::ports::{
    ActionDelivery, ActionError, ActionRequest, ActionSink, MAX_RESPONSE_BYTES,
};

use crate::mail::Mailer;
use crate::outbound::{describe, read_capped, OutboundPolicy, Refused};

/// Longest response excerpt kept for the audit trail.
pub const EXCERPT_CHARS: usize = 500;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// First backoff ceiling; doubles per attempt up to `max_backoff`.
    pub base: Duration,
    pub max_backoff: Duration,
    /// A receiver's `Retry-After` is honoured up to this.
    pub max_retry_after: Duration,
    /// Per attempt, connect to last byte.
    pub timeout: Duration,
    /// The least time worth starting an attempt with before a deadline.
    pub min_attempt: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(20),
            timeout: Duration::from_secs(10),
            min_attempt: Duration::from_secs(1),
        }
    }
}

/// What one attempt came to, as far as retrying cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    /// Timed out, or the connection failed before an answer.
    Transient,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Delivered,
    /// A 3xx or a 4xx other than 429: the receiver will not change its mind.
    Reject,
    RetryIn(Duration),
    GiveUp,
    /// A retry was due after this wait, but the deadline leaves no attempt
    /// after it.
    OutOfTime(Duration),
}

impl RetryPolicy {
    /// The decision after attempt number `attempt` (1-based). `jitter` in
    /// [0, 1) picks the delay within the backoff window (full jitter), so
    /// callers that retry together spread out.
    pub fn next(&self, attempt: u32, outcome: &Attempt, jitter: f64) -> Next {
        let retry_after = match outcome {
            Attempt::Status { code, .. } if (200..300).contains(code) => return Next::Delivered,
            Attempt::Status {
                code: 429,
                retry_after,
            } => *retry_after,
            // A redirect left standing goes to another origin (see
            // `outbound`): not followed, and not a delivery.
            Attempt::Status { code, .. } if (300..500).contains(code) => return Next::Reject,
            Attempt::Status { .. } | Attempt::Transient => None,
        };
        if attempt >= self.max_attempts {
            return Next::GiveUp;
        }
        if let Some(wait) = retry_after {
            return Next::RetryIn(wait.min(self.max_retry_after));
        }
        let exp = self
            .base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.max_backoff);
        Next::RetryIn(exp.mul_f64(jitter.clamp(0.0, 1.0)))
    }

    /// [`RetryPolicy::next`] with `left` until the deadline: a wait after
    /// which no attempt of `min_attempt` fits is not started.
    pub fn next_within(
        &self,
        attempt: u32,
        outcome: &Attempt,
        jitter: f64,
        left: Option<Duration>,
    ) -> Next {
        match self.next(attempt, outcome, jitter) {
            Next::RetryIn(wait) if left.is_some_and(|left| wait + self.min_attempt > left) => {
                Next::OutOfTime(wait)
            }
            next => next,
        }
    }

    /// How long the next attempt may take, or `None` when the deadline
    /// leaves less than `min_attempt`.
    pub fn attempt_timeout(&self, left: Option<Duration>) -> Option<Duration> {
        match left {
            None => Some(self.timeout),
            Some(left) if left < self.min_attempt => None,
            Some(left) => Some(left.min(self.timeout)),
        }
    }
}

/// `Retry-After` in seconds; the HTTP-date form falls back to backoff.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// At most [`EXCERPT_CHARS`] characters (an ellipsis marks a cut), cut on
/// a character boundary.
pub fn excerpt(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_string();
    }
    let end = text
        .char_indices()
        .nth(EXCERPT_CHARS - 1)
        .map_or(text.len(), |(i, _)| i);
    format!("{}…", &text[..end])
}

pub struct HttpActionSink {
    client: reqwest::Client,
    policy: RetryPolicy,
    outbound: OutboundPolicy,
    mailer: Option<Arc<dyn Mailer>>,
}

impl HttpActionSink {
    /// Builds the one HTTP client for the process, holding `outbound`.
    /// Without a mailer, `email` actions fail with a message saying so.
    pub fn new(
        outbound: OutboundPolicy,
        mailer: Option<Arc<dyn Mailer>>,
    ) -> Result<Self, reqwest::Error> {
        Self::with_policy(RetryPolicy::default(), outbound, mailer)
    }

    pub fn with_policy(
        policy: RetryPolicy,
        outbound: OutboundPolicy,
        mailer: Option<Arc<dyn Mailer>>,
    ) -> Result<Self, reqwest::Error> {
        let client = outbound.client_builder().timeout(policy.timeout).build()?;
        Ok(Self {
            client,
            policy,
            outbound,
            mailer,
        })
    }

    async fn send_http(
        &self,
        request: &ActionRequest,
        deadline: Option<Instant>,
    ) -> Result<ActionDelivery, ActionError> {
        let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| ActionError::Exhausted {
                reason: format!("`{}` is not an HTTP method", request.method),
                attempts: 0,
            })?;
        if let Err(refused) = self.outbound.check(&request.target) {
            return Err(ActionError::Exhausted {
                reason: refused.to_string(),
                attempts: 0,
            });
        }
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let mut attempt = 0;
        loop {
            let Some(timeout) = self.policy.attempt_timeout(left()) else {
                return Err(ActionError::Exhausted {
                    reason: "the function's deadline left no time to send it".into(),
                    attempts: attempt,
                });
            };
            attempt += 1;
            let mut builder = self
                .client
                .request(method.clone(), &request.target)
                .timeout(timeout)
                .body(request.body.clone());
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let (outcome, text, reason) = match builder.send().await {
                Ok(mut response) => {
                    let code = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    // Only an excerpt is kept; a reply is read no further than
                    // the cap any outbound response has.
                    let body = read_capped(&mut response, MAX_RESPONSE_BYTES)
                        .await
                        .map(|(body, _)| body)
                        .unwrap_or_default();
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let reason = format!("status {code}");
                    (Attempt::Status { code, retry_after }, Some(text), reason)
                }
                Err(err) if err.is_builder() => {
                    // A malformed target or header: no attempt will fare better.
                    return Err(ActionError::Exhausted {
                        reason: format!("request could not be sent: {}", describe(err)),
                        attempts: attempt,
                    });
                }
                Err(err) => {
                    if let Some(refused) = Refused::within(&err) {
                        return Err(ActionError::Exhausted {
                            reason: refused.to_string(),
                            attempts: attempt,
                        });
                    }
                    (Attempt::Transient, None, describe(err))
                }
            };
            match self
                .policy
                .next_within(attempt, &outcome, rand::random::<f64>(), left())
            {
                Next::Delivered => {
                    let Attempt::Status { code, .. } = outcome else {
                        unreachable!("only a status is delivered")
                    };
                    return Ok(ActionDelivery {
                        status_code: Some(code),
                        attempts: attempt,
                        response_excerpt: text.filter(|t| !t.is_empty()).map(|t| excerpt(&t)),
                    });
                }
                Next::Reject => {
                    let Attempt::Status { code, .. } = outcome else {
                        unreachable!("only a status is rejected")
                    };
                    return Err(ActionError::Rejected {
                        status: code,
                        excerpt: excerpt(&text.unwrap_or_default()),
                        attempts: attempt,
                    });
                }
                Next::GiveUp => {
                    let detail = text.map(|t| excerpt(&t)).unwrap_or_default();
                    return Err(ActionError::Exhausted {
                        reason: format!("{reason} {detail}").trim().to_string(),
                        attempts: attempt,
                    });
                }
                Next::OutOfTime(wait) => {
                    return Err(ActionError::Exhausted {
                        reason: format!(
                            "{reason}; a retry in {} s would outlast the function's deadline",
                            wait.as_secs_f64().ceil()
                        ),
                        attempts: attempt,
                    });
                }
                Next::RetryIn(wait) => {
                    tracing::info!(
                        run_id = %request.run_id,
                        action = %request.action,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        %reason,
                        "action attempt failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn send_email(&self, request: &ActionRequest) -> Result<ActionDelivery, ActionError> {
        let Some(mailer) = &self.mailer else {
            return Err(ActionError::Exhausted {
                reason: "e-mail actions need a mailer; this function was built without one".into(),
                attempts: 0,
            });
        };
        let subject = request.subject.as_deref().unwrap_or(&request.action);
        mailer
            .send_mail(&request.target, subject, &request.body)
            .await
            .map_err(|e| ActionError::Exhausted {
                reason: e.to_string(),
                attempts: 1,
            })?;
        Ok(ActionDelivery {
            status_code: None,
            attempts: 1,
            response_excerpt: None,
        })
    }
}

#[async_trait]
impl ActionSink for HttpActionSink {
    async fn perform(
        &self,
        request: &ActionRequest,
        deadline: Option<Instant>,
    ) -> Result<ActionDelivery, ActionError> {
        match request.kind.as_str() {
            "webhook" | "slack" | "http" => self.send_http(request, deadline).await,
            "email" => self.send_email(request).await,
            other => Err(ActionError::Exhausted {
                reason: format!("unknown action kind `{other}`"),
                attempts: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Attempt {
        Attempt::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn successes_are_delivered_and_a_redirect_left_standing_is_not() {
        let p = RetryPolicy::default();
        assert_eq!(p.next(1, &status(200), 0.5), Next::Delivered);
        assert_eq!(p.next(3, &status(204), 0.5), Next::Delivered);
        assert_eq!(p.next(1, &status(302), 0.5), Next::Reject);
        assert_eq!(p.next(1, &status(307), 0.5), Next::Reject);
    }

    #[test]
    fn client_errors_reject_at_once() {
        let p = RetryPolicy::default();
        assert_eq!(p.next(1, &status(400), 0.5), Next::Reject);
        assert_eq!(p.next(1, &status(404), 0.5), Next::Reject);
    }

    #[test]
    fn server_errors_and_timeouts_back_off_with_full_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.next(1, &status(503), 0.0), Next::RetryIn(Duration::ZERO));
        assert_eq!(
            p.next(1, &Attempt::Transient, 0.5),
            Next::RetryIn(Duration::from_millis(125))
        );
        assert_eq!(
            p.next(2, &status(500), 0.5),
            Next::RetryIn(Duration::from_millis(250))
        );
        assert_eq!(p.next(3, &status(500), 0.5), Next::GiveUp);
    }

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy {
            max_attempts: 20,
            ..RetryPolicy::default()
        };
        assert_eq!(p.next(15, &status(502), 1.0), Next::RetryIn(p.max_backoff));
    }

    #[test]
    fn too_many_requests_honours_retry_after_up_to_the_cap() {
        let p = RetryPolicy::default();
        let wait = |secs| Attempt::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            p.next(1, &wait(3), 0.9),
            Next::RetryIn(Duration::from_secs(3))
        );
        assert_eq!(
            p.next(1, &wait(3600), 0.9),
            Next::RetryIn(p.max_retry_after)
        );
        assert_eq!(p.next(3, &wait(3), 0.9), Next::GiveUp);
        assert!(matches!(p.next(1, &status(429), 0.5), Next::RetryIn(_)));
    }

    #[test]
    fn a_retry_that_would_outlast_the_deadline_is_not_started() {
        let p = RetryPolicy::default();
        let busy = Attempt::Status {
            code: 429,
            retry_after: Some(Duration::from_secs(20)),
        };
        let left = |s| Some(Duration::from_secs(s));
        assert_eq!(
            p.next_within(1, &busy, 0.5, left(15)),
            Next::OutOfTime(Duration::from_secs(20))
        );
        assert_eq!(
            p.next_within(1, &busy, 0.5, left(30)),
            Next::RetryIn(Duration::from_secs(20))
        );
        assert_eq!(
            p.next_within(1, &busy, 0.5, None),
            Next::RetryIn(Duration::from_secs(20))
        );
        // What ends anyway ends the same way, whatever time is left.
        assert_eq!(
            p.next_within(1, &status(200), 0.5, left(0)),
            Next::Delivered
        );
        assert_eq!(p.next_within(3, &status(503), 0.5, left(0)), Next::GiveUp);
    }

    #[test]
    fn an_attempt_is_cut_to_the_time_left_and_not_started_without_enough() {
        let p = RetryPolicy::default();
        assert_eq!(p.attempt_timeout(None), Some(p.timeout));
        assert_eq!(
            p.attempt_timeout(Some(Duration::from_secs(60))),
            Some(p.timeout)
        );
        assert_eq!(
            p.attempt_timeout(Some(Duration::from_secs(3))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(p.attempt_timeout(Some(Duration::from_millis(500))), None);
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn excerpts_stop_at_500_characters() {
        let long = "é".repeat(600);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }

    #[tokio::test]
    async fn email_without_a_mailer_fails_clearly() {
        let sink = HttpActionSink::new(OutboundPolicy::default(), None).unwrap();
        let request = ActionRequest {
            run_id: "run-1".into(),
            action: "notify".into(),
            kind: "email".into(),
            idempotency_key: "run-1:notify".into(),
            method: "POST".into(),
            target: "ops@example.com".into(),
            headers: Default::default(),
            body: "hi".into(),
            subject: None,
        };
        let err = sink.perform(&request, None).await.unwrap_err();
        assert!(err.to_string().contains("mailer"), "{err}");
    }
}
