//! The `api` function: the read side (`GET /runs`, `GET /runs/{id}`, the
//! dashboard at `GET /`), reviewer feedback (`POST /runs/{id}/feedback`),
//! redriving a failed run (`POST /runs/{id}/redrive`) and the sign-in page.
//!
//! Every route but sign-in needs a reviewer token ([`crate::tokens`]): as
//! `Authorization: Bearer`, or for reads the session cookie `POST /login`
//! sets. A reviewer sees the runs of the workflows they review (a token
//! with `all_workflows` sees every run), with the spec's `sensitive` fields
//! masked. Task tokens never appear in a response.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use tracing::warn;

use handoff_spec::{Catalog, Workflow};

use crate::domain::*;
use crate::http::{ApiError, HttpRequest, HttpResponse};
use crate::links;
use crate::observe::redact::{redact, sensitive_fields};
use crate::pages::{self, console::Console};
use crate::ports::*;
use crate::stages::correction::{self, Correction, CorrectionError};
use crate::stages::redrive::{Redrive, RedriveError};
use crate::stages::run_detail::RunDetail;

mod dashboard;
use crate::tokens::{self, Claims, Scope, TokenError};

pub const MAX_LIMIT: usize = 100;
pub const DEFAULT_LIMIT: usize = 50;
const MAX_FEEDBACK_BYTES: usize = 64 * 1024;
const MAX_LOGIN_BYTES: usize = 8 * 1024;

pub struct ReadApi {
    pub catalog: Arc<Catalog>,
    pub store: Arc<dyn RunStore>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    /// Name of the secret that signs reviewer tokens (never the link secret).
    pub token_secret: String,
    /// Starts the execution of a redriven run.
    pub executions: Arc<dyn Executions>,
    /// Where the operator's pages link: a run's page, more pages.
    pub console: Console,
}

type Outcome = Result<HttpResponse, ReadError>;

/// Why the API function refused a request.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such route")]
    NoRoute,
    /// The methods the route takes.
    #[error("use {0}")]
    MethodNotAllowed(&'static str),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this token does not allow `{}`", .0.as_str())]
    MissingScope(Scope),
    #[error("only an `all_workflows` token revokes another token")]
    RevokesOnlyItsOwn,
    #[error("`{reviewer}` is not a reviewer of {workflow}")]
    NotAReviewer { reviewer: String, workflow: String },
    /// What was expected, and why the body is not that.
    #[error("expected {expected}: {reason}")]
    MalformedBody {
        expected: &'static str,
        reason: String,
    },
    #[error("unknown status `{0}`; one of {known}", known = known_statuses())]
    BadStatus(String),
    #[error("no workflow named `{0}`")]
    UnknownWorkflow(String),
    #[error("the cursor is not from this listing")]
    BadCursor,
    #[error("limit must be a number from 1 to {MAX_LIMIT}")]
    BadLimit,
    #[error("no run `{0}`")]
    RunNotFound(RunId),
    #[error("the run's workflow `{0}` is no longer deployed")]
    WorkflowGone(String),
    #[error("feedback is limited to {MAX_FEEDBACK_BYTES} bytes")]
    FeedbackTooLarge,
    #[error("feedback is JSON (content-type: application/json)")]
    FeedbackNotJson,
    #[error(transparent)]
    Correction(CorrectionError),
    /// Not failed, rejected by its reviewers, or changed meanwhile; the
    /// `From` conversion turns a missing run or a store fault into
    /// [`ReadError::RunNotFound`] and [`ReadError::Unavailable`].
    #[error(transparent)]
    Redrive(RedriveError),
    #[error("the run store is unavailable; retry later")]
    Unavailable,
}

impl ApiError for ReadError {
    fn status(&self) -> u16 {
        use ReadError::*;
        match self {
            NoRoute | RunNotFound(_) => 404,
            MethodNotAllowed(_) => 405,
            Unauthorized(_) => 401,
            MissingScope(_) | RevokesOnlyItsOwn | NotAReviewer { .. } => 403,
            MalformedBody { .. } | BadStatus(_) | UnknownWorkflow(_) | BadCursor | BadLimit => 400,
            WorkflowGone(_) => 409,
            FeedbackTooLarge => 413,
            FeedbackNotJson => 415,
            Correction(CorrectionError::NotThisRunsReviewer { .. }) => 403,
            Correction(CorrectionError::UnknownLabel { .. }) => 422,
            Correction(CorrectionError::RateLimited { .. }) => 429,
            Redrive(RedriveError::NotFound(_)) => 404,
            Redrive(RedriveError::Stage(_)) => 503,
            Redrive(_) => 409,
            Correction(CorrectionError::Store(_)) | Unavailable => 503,
        }
    }

    fn code(&self) -> &'static str {
        use ReadError::*;
        match self {
            NoRoute => "not_found",
            MethodNotAllowed(_) => "method_not_allowed",
            Unauthorized(_) => "unauthorized",
            MissingScope(_) | RevokesOnlyItsOwn => "missing_scope",
            NotAReviewer { .. } => "not_a_reviewer",
            MalformedBody { .. } => "malformed_body",
            BadStatus(_) => "bad_status",
            UnknownWorkflow(_) | WorkflowGone(_) => "unknown_workflow",
            BadCursor => "bad_cursor",
            BadLimit => "bad_limit",
            RunNotFound(_) => "run_not_found",
            FeedbackTooLarge => "payload_too_large",
            FeedbackNotJson => "unsupported_media_type",
            Correction(CorrectionError::NotThisRunsReviewer { .. }) => "not_this_runs_reviewer",
            Correction(CorrectionError::UnknownLabel { .. }) => "unknown_label",
            Correction(CorrectionError::RateLimited { .. }) => "too_many_corrections",
            Redrive(RedriveError::NotFailed(..)) => "not_failed",
            Redrive(RedriveError::Rejected(_)) => "rejected_by_reviewers",
            Redrive(RedriveError::Changed(_)) => "changed",
            Redrive(RedriveError::NotFound(_)) => "run_not_found",
            Redrive(RedriveError::Stage(_)) => "unavailable",
            Correction(CorrectionError::Store(_)) | Unavailable => "unavailable",
        }
    }

    /// With the headers some refusals carry: `allow`, `www-authenticate`,
    /// `retry-after`.
    fn response(&self) -> HttpResponse {
        let mut r = HttpResponse::error(self.status(), self.code(), &self.to_string());
        match self {
            ReadError::MethodNotAllowed(allow) => {
                r.headers.push(("allow".into(), allow.to_string()))
            }
            ReadError::Unauthorized(_) => {
                r.headers.push(("www-authenticate".into(), "Bearer".into()))
            }
            ReadError::Correction(CorrectionError::RateLimited { retry_after }) => {
                let seconds = retry_after.num_seconds().max(1);
                r.headers.push(("retry-after".into(), seconds.to_string()));
            }
            _ => {}
        }
        r
    }
}

impl From<CorrectionError> for ReadError {
    fn from(e: CorrectionError) -> Self {
        match e {
            CorrectionError::Store(e) => unavailable(e),
            other => ReadError::Correction(other),
        }
    }
}

impl From<RedriveError> for ReadError {
    fn from(e: RedriveError) -> Self {
        match e {
            RedriveError::NotFound(id) => ReadError::RunNotFound(id),
            RedriveError::Stage(e) => unavailable(e),
            other => ReadError::Redrive(other),
        }
    }
}

fn known_statuses() -> String {
    let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
    known.join(", ")
}

/// Logs why the store failed; the caller learns only that it did.
fn unavailable(e: impl std::fmt::Display) -> ReadError {
    warn!(error = %e, "read side unavailable");
    ReadError::Unavailable
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    #[serde(default)]
    id: Option<String>,
}

fn session_token(req: &HttpRequest) -> Option<&str> {
    tokens::cookie(req.header("cookie"), tokens::SESSION_COOKIE)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    label: String,
    #[serde(default)]
    edits: Option<Value>,
}

/// The routes of the API function, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Dashboard,
    List,
    Run(String),
    Feedback(String),
    Redrive(String),
    LoginPage,
    Login,
    Logout,
    RevokeToken,
}

impl Route {
    /// The route, or the error that answers the request.
    fn parse(req: &HttpRequest) -> Result<Route, ReadError> {
        let read = matches!(req.method.as_str(), "GET" | "HEAD");
        let post = req.method == "POST";
        let id = req.path_params.get("id").cloned();
        let path = req.path.trim_end_matches('/');
        let (route, allow) = match (path, id) {
            ("", None) => (read.then_some(Route::Dashboard), "GET, HEAD"),
            ("/runs", None) => (read.then_some(Route::List), "GET, HEAD"),
            ("/login", None) => (
                if read {
                    Some(Route::LoginPage)
                } else {
                    post.then_some(Route::Login)
                },
                "GET, HEAD, POST",
            ),
            ("/logout", None) => (post.then_some(Route::Logout), "POST"),
            ("/tokens/revoke", None) => (post.then_some(Route::RevokeToken), "POST"),
            (p, Some(id)) if p.ends_with("/feedback") => {
                (post.then_some(Route::Feedback(id)), "POST")
            }
            (p, Some(id)) if p.ends_with("/redrive") => {
                (post.then_some(Route::Redrive(id)), "POST")
            }
            (_, Some(id)) => (read.then_some(Route::Run(id)), "GET, HEAD"),
            _ => return Err(ReadError::NoRoute),
        };
        route.ok_or(ReadError::MethodNotAllowed(allow))
    }
}

impl ReadApi {
    pub async fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let result = match Route::parse(req) {
            Ok(route) => self.serve(req, route).await,
            Err(e) => Err(e),
        };
        let mut response = result.unwrap_or_else(|e| e.response());
        if req.method == "HEAD" {
            response.body.clear();
        }
        response
    }

    async fn serve(&self, req: &HttpRequest, route: Route) -> Outcome {
        match route {
            Route::LoginPage => Ok(HttpResponse::html(200, pages::login::render(None))),
            Route::Login => self.login(req).await,
            Route::Logout => self.logout(req).await,
            Route::RevokeToken => self.revoke(req).await,
            Route::Dashboard => {
                let shown = match self.caller(req, Scope::Read).await {
                    Ok(caller) => self.dashboard(req, &caller).await,
                    // A browser without a session is sent to sign in.
                    Err(ReadError::Unauthorized(_)) if !req.wants_json() => {
                        Ok(HttpResponse::see_other("/login", None))
                    }
                    Err(e) => Err(e),
                };
                // A browser gets a page that says why, not a JSON error.
                match shown {
                    Err(e) if !req.wants_json() => Ok(HttpResponse::html(
                        e.status(),
                        pages::message("Not shown", &e.to_string()),
                    )),
                    other => other,
                }
            }
            Route::List => self.list(req, &self.caller(req, Scope::Read).await?).await,
            Route::Run(id) => self.run(&self.caller(req, Scope::Read).await?, &id).await,
            Route::Feedback(id) => {
                let caller = self.caller(req, Scope::Feedback).await?;
                self.feedback(req, &caller, &id).await
            }
            Route::Redrive(id) => {
                let caller = self.caller(req, Scope::Redrive).await?;
                self.redrive(&caller, &id).await
            }
        }
    }

    /// The gateway's check before a route runs (the Lambda authorizer in
    /// AWS): the caller's claims when the request's token allows the
    /// route. Which runs those claims may see is decided by the route.
    pub async fn authorize(&self, req: &HttpRequest) -> Result<Claims, ReadError> {
        let scope = match Route::parse(req)? {
            Route::Feedback(_) => Scope::Feedback,
            Route::Redrive(_) => Scope::Redrive,
            Route::RevokeToken => return self.holder(req).await,
            _ => Scope::Read,
        };
        self.caller(req, scope).await
    }

    async fn token_key(&self) -> Result<Secret, ReadError> {
        self.secrets
            .get(&self.token_secret)
            .await
            .and_then(|s| s.signing_key(&self.token_secret))
            .map_err(unavailable)
    }

    /// Who asks, from the bearer token or, for reads, the session cookie;
    /// refused unless the token holds `scope`. Changes (POST) take only the
    /// bearer header, so no other site's page can make a browser send them.
    pub async fn caller(&self, req: &HttpRequest, scope: Scope) -> Result<Claims, ReadError> {
        let claims = self.holder(req).await?;
        if !claims.allows(scope) {
            return Err(ReadError::MissingScope(scope));
        }
        Ok(claims)
    }

    /// The claims of the request's genuine, unexpired, unrevoked token.
    async fn holder(&self, req: &HttpRequest) -> Result<Claims, ReadError> {
        let token = links::bearer(req.header("authorization")).or_else(|| {
            matches!(req.method.as_str(), "GET" | "HEAD")
                .then(|| session_token(req))
                .flatten()
        });
        let token = token.ok_or(ReadError::Unauthorized(
            "a reviewer token is required (Authorization: Bearer …, or sign in at /login)",
        ))?;
        self.verify(token).await
    }

    async fn verify(&self, token: &str) -> Result<Claims, ReadError> {
        let claims = tokens::verify(&self.token_key().await?, token, self.clock.now()).map_err(
            |e| match e {
                TokenError::Expired => ReadError::Unauthorized("the reviewer token expired"),
                _ => ReadError::Unauthorized("the reviewer token is not valid"),
            },
        )?;
        if self
            .store
            .token_revoked(&claims.jti)
            .await
            .map_err(unavailable)?
        {
            return Err(ReadError::Unauthorized("the reviewer token was revoked"));
        }
        Ok(claims)
    }

    /// `POST /tokens/revoke` (`{"id": …}`, or no body for the token sent):
    /// a holder withdraws their own token; an `all_workflows` token any.
    async fn revoke(&self, req: &HttpRequest) -> Outcome {
        let caller = self.holder(req).await?;
        let named = match req.body.is_empty() {
            true => None,
            false => serde_json::from_slice::<RevokeBody>(&req.body)
                .map_err(|e| ReadError::MalformedBody {
                    expected: "{id}",
                    reason: e.to_string(),
                })?
                .id
                .filter(|id| id != &caller.jti),
        };
        let (id, until) = match named {
            None => (caller.jti.clone(), caller.exp),
            Some(_) if !caller.allows(Scope::AllWorkflows) => {
                return Err(ReadError::RevokesOnlyItsOwn)
            }
            // Its expiry is unknown here; no token outlives this.
            Some(id) => (
                id,
                self.clock.now().timestamp() + tokens::MAX_LIFETIME_SECONDS,
            ),
        };
        let until = chrono::DateTime::from_timestamp(until, 0).unwrap_or_else(|| self.clock.now());
        self.store
            .revoke_token(&id, until)
            .await
            .map_err(unavailable)?;
        Ok(HttpResponse::json(200, &json!({ "revoked": id })))
    }

    /// `POST /logout`: the session's token is revoked, the cookie cleared.
    async fn logout(&self, req: &HttpRequest) -> Outcome {
        if let Some(token) = session_token(req) {
            if let Ok(claims) = self.verify(token).await {
                let until = chrono::DateTime::from_timestamp(claims.exp, 0)
                    .unwrap_or_else(|| self.clock.now());
                self.store
                    .revoke_token(&claims.jti, until)
                    .await
                    .map_err(unavailable)?;
            }
        }
        Ok(HttpResponse::see_other("/login", Some(clear_session())))
    }

    /// The workflows whose runs `caller` may see.
    fn readable<'a>(&'a self, caller: &'a Claims) -> impl Iterator<Item = &'a str> + 'a {
        self.catalog
            .names()
            .filter(move |name| self.may_read(caller, name))
    }

    /// `?workflow=…`: a deployed workflow the caller reads, if given.
    fn query_workflow(
        &self,
        req: &HttpRequest,
        caller: &Claims,
    ) -> Result<Option<String>, ReadError> {
        match req.query.get("workflow").filter(|w| !w.is_empty()) {
            Some(w) if self.catalog.get(w).is_none() => Err(ReadError::UnknownWorkflow(w.clone())),
            Some(w) if !self.may_read(caller, w) => Err(ReadError::NotAReviewer {
                reviewer: caller.sub.clone(),
                workflow: w.clone(),
            }),
            w => Ok(w.cloned()),
        }
    }

    fn may_read(&self, caller: &Claims, workflow: &str) -> bool {
        caller.allows(Scope::AllWorkflows)
            || self
                .catalog
                .get(workflow)
                .is_some_and(|wf| reviews(wf, &caller.sub))
    }

    /// `POST /login` (form `token=…`): a valid token with the `read` scope
    /// becomes the browser's session cookie.
    async fn login(&self, req: &HttpRequest) -> Outcome {
        // A refused sign-in is the sign-in page again, with why.
        let refuse = |status: u16, message: &str| {
            Ok(HttpResponse::html(
                status,
                pages::login::render(Some(message)),
            ))
        };
        if req.body.len() > MAX_LOGIN_BYTES {
            return refuse(413, "That is too long to be a token.");
        }
        let token = url::form_urlencoded::parse(&req.body)
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        let now = self.clock.now();
        match tokens::verify(&self.token_key().await?, &token, now) {
            Ok(claims) if claims.allows(Scope::Read) => {
                let secure = !req
                    .header("x-forwarded-proto")
                    .is_some_and(|p| p.eq_ignore_ascii_case("http"));
                let cookie = tokens::session_cookie(&token, &claims, now, secure);
                Ok(HttpResponse::see_other("/", Some(cookie)))
            }
            Ok(_) => refuse(403, "This token does not allow reading runs."),
            Err(TokenError::Expired) => refuse(401, "This token expired; ask for a new one."),
            Err(_) => refuse(401, "This is not a valid reviewer token."),
        }
    }

    async fn list(&self, req: &HttpRequest, caller: &Claims) -> Outcome {
        let status = query_status(req)?;
        let workflow = match self.query_workflow(req, caller)? {
            Some(w) => Some(w),
            // A reviewer of one workflow lists it; of several, pages are
            // filtered below and may hold fewer than `limit` runs.
            None => match self.readable(caller).collect::<Vec<_>>()[..] {
                [only] if !caller.allows(Scope::AllWorkflows) => Some(only.to_string()),
                [] => {
                    return Ok(HttpResponse::json(
                        200,
                        &json!({ "runs": [], "next": null }),
                    ))
                }
                _ => None,
            },
        };
        let limit = parse_limit(req.query.get("limit"))?;
        let page = self
            .store
            .list_runs(&RunQuery {
                workflow,
                status,
                sender: None,
                limit,
                cursor: req.query.get("cursor").filter(|c| !c.is_empty()).cloned(),
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) | StoreError::NotFound(_) => ReadError::BadCursor,
                other => unavailable(other),
            })?;
        let runs: Vec<&Run> = page
            .items
            .iter()
            .filter(|r| self.may_read(caller, &r.workflow))
            .collect();
        Ok(HttpResponse::json(
            200,
            &json!({ "runs": runs, "next": page.next }),
        ))
    }

    /// The run's workflow, if this deployment still has it.
    fn deployed(&self, run: &Run) -> Result<&Arc<handoff_spec::Workflow>, ReadError> {
        self.catalog
            .get(&run.workflow)
            .ok_or_else(|| ReadError::WorkflowGone(run.workflow.clone()))
    }

    async fn stored_run(&self, id: &RunId) -> Result<Run, ReadError> {
        self.store
            .get_run(id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ReadError::RunNotFound(id.clone()))
    }

    /// A run `caller` may see; any other is "not found", so ids of other
    /// workflows' runs cannot be probed.
    async fn readable_run(&self, caller: &Claims, id: &RunId) -> Result<Run, ReadError> {
        let run = self.stored_run(id).await?;
        if self.may_read(caller, &run.workflow) {
            Ok(run)
        } else {
            Err(ReadError::RunNotFound(id.clone()))
        }
    }

    async fn run(&self, caller: &Claims, id: &str) -> Outcome {
        let run = self.readable_run(caller, &RunId(id.to_string())).await?;
        let sensitive = self
            .catalog
            .get(&run.workflow)
            .map(|wf| sensitive_fields(wf))
            .unwrap_or_default();
        let detail = RunDetail::of(self.store.as_ref(), run)
            .await
            .map_err(unavailable)?;
        Ok(HttpResponse::json(
            200,
            &redact(&detail.to_json(), &sensitive),
        ))
    }

    /// `POST /runs/{id}/redrive`: a reviewer of the run's workflow starts a
    /// failed run again from the step that failed.
    async fn redrive(&self, caller: &Claims, id: &str) -> Outcome {
        let run_id = RunId(id.to_string());
        let run = self.readable_run(caller, &run_id).await?;
        self.deployed(&run)?;
        let redrive = Redrive {
            catalog: self.catalog.clone(),
            store: self.store.clone(),
            executions: self.executions.clone(),
            clock: self.clock.clone(),
        };
        let redriven = redrive.run(&run_id).await?;
        Ok(HttpResponse::json(202, &json!(redriven)))
    }

    async fn feedback(&self, req: &HttpRequest, caller: &Claims, id: &str) -> Outcome {
        if req.body.len() > MAX_FEEDBACK_BYTES {
            return Err(ReadError::FeedbackTooLarge);
        }
        if !req
            .header("content-type")
            .is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"))
        {
            return Err(ReadError::FeedbackNotJson);
        }
        let body: FeedbackBody =
            serde_json::from_slice(&req.body).map_err(|e| ReadError::MalformedBody {
                expected: "{label, edits?}",
                reason: e.to_string(),
            })?;
        let run_id = RunId(id.to_string());
        let run = self.readable_run(caller, &run_id).await?;
        let workflow = self.deployed(&run)?;
        let correction = Correction {
            reviewer: caller.sub.clone(),
            label: body.label,
            edits: body.edits,
        };
        let feedback = correction::record(
            self.store.as_ref(),
            self.clock.now(),
            workflow,
            &run,
            correction,
        )
        .await?;
        crate::stages::audit::record(
            self.store.as_ref(),
            self.clock.as_ref(),
            &run_id,
            Stage::Finalize,
            "feedback.recorded",
            json!({
                "reviewer": feedback.reviewer,
                "predicted_label": feedback.predicted_label,
                "final_label": feedback.final_label,
                "edits": feedback.edits,
                "status": feedback.status,
            }),
        )
        .await
        .map_err(unavailable)?;
        let status = match feedback.status {
            FeedbackStatus::Confirmed => "recorded",
            FeedbackStatus::AwaitingSecondReviewer => "awaiting_second_reviewer",
        };
        Ok(HttpResponse::json(
            201,
            &json!({
                "status": status,
                "run_id": run_id,
                "predicted_label": feedback.predicted_label,
                "final_label": feedback.final_label,
            }),
        ))
    }
}

/// `?status=…`, if given.
fn query_status(req: &HttpRequest) -> Result<Option<RunStatus>, ReadError> {
    match req.query.get("status").filter(|s| !s.is_empty()) {
        Some(s) => Ok(Some(
            RunStatus::parse(s).ok_or_else(|| ReadError::BadStatus(s.clone()))?,
        )),
        None => Ok(None),
    }
}

fn parse_limit(raw: Option<&String>) -> Result<usize, ReadError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ReadError::BadLimit),
    }
}

/// Whether `reviewer` is among the workflow's reviewers or escalation
/// reviewers.
fn reviews(workflow: &Workflow, reviewer: &str) -> bool {
    workflow.spec.approval.as_ref().is_some_and(|a| {
        a.reviewers
            .iter()
            .chain(&a.escalate_to)
            .any(|r| r.eq_ignore_ascii_case(reviewer))
    })
}

fn clear_session() -> String {
    format!(
        "{}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict",
        tokens::SESSION_COOKIE
    )
}
