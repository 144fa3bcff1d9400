//! The local API Gateway: the template's HttpApi routes on axum, each
//! request turned into the core's `HttpRequest` (raw body bytes, lower-case
//! headers, path parameters, query) and handed to the same stage the Lambda
//! runs, the dashboard at `/` among them. Local extras beside them: a run's
//! timeline, the outbox and the one-time login link. Every request must name the bound address as its
//! `Host`; the local pages need the operator's session ([`crate::access`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use axum::body::{Body, Bytes};
use axum::extract::{RawPathParams, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
use axum::Router;
use handoff_core::http::{ApiError, HttpRequest, HttpResponse};
use handoff_core::roles::{role_of, HttpHandler, Role};
use handoff_core::stages::read::ReadError;
use handoff_core::tokens::{self, Scope};

use crate::pages;
use crate::stack::Stack;
use crate::template::Template;

/// An HTTP API payload's limit (10 MB).
const API_GATEWAY_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Every HttpApi route of the template with its handler; an error names a
/// route whose function has no local handler.
pub fn resolve_routes(template: &Template) -> anyhow::Result<Vec<(Method, String, HttpHandler)>> {
    let mut out = Vec::new();
    for route in &template.routes {
        let function = template
            .functions
            .get(&route.function)
            .ok_or_else(|| anyhow!("route {} {} names no function", route.method, route.path))?;
        let Some(Role::Http(handler)) = role_of(&function.binary) else {
            bail!(
                "route {} {} → {} (binary {}) has no local handler",
                route.method,
                route.path,
                route.function,
                function.binary
            );
        };
        let method = Method::from_bytes(route.method.as_bytes())
            .map_err(|_| anyhow!("route {} {}: bad method", route.method, route.path))?;
        out.push((method, route.path.clone(), handler));
    }
    Ok(out)
}

/// The whole local gateway.
pub fn router(stack: Arc<Stack>) -> anyhow::Result<Router> {
    let mut by_path: BTreeMap<String, Vec<(Method, HttpHandler)>> = BTreeMap::new();
    for (method, path, handler) in resolve_routes(&stack.template)? {
        by_path.entry(path).or_default().push((method, handler));
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        let mut method_router = axum::routing::MethodRouter::new();
        let mut any = false;
        for (method, handler) in methods {
            // The local sign-in takes the one-time code as well.
            if path == "/login" && method == Method::GET {
                continue;
            }
            any = true;
            let filter = MethodFilter::try_from(method.clone())
                .map_err(|_| anyhow!("{method} {path}: method not routable"))?;
            let s = stack.clone();
            method_router = method_router.merge(on(
                filter,
                move |method: Method,
                      uri: Uri,
                      headers: HeaderMap,
                      params: RawPathParams,
                      body: Bytes| async move {
                    let params = params
                        .iter()
                        .map(|(k, v)| (k.to_string(), decode(v)))
                        .collect();
                    let req = to_core(method, &uri, &headers, params, body);
                    let res = match handler {
                        HttpHandler::Ingest => s.ingest.handle(&req).await,
                        HttpHandler::Callback => s.callback.handle(&req).await,
                        HttpHandler::ReadApi => s.read_api.handle(&req).await,
                    };
                    from_core(res)
                },
            ));
        }
        if any {
            router = router.route(&path, method_router);
        }
    }
    let s = stack.clone();
    router = router.route(
        "/login",
        get(move |uri: Uri, headers: HeaderMap| {
            let s = s.clone();
            async move { from_core(login(&s, &uri, &headers).await) }
        }),
    );
    let s = stack.clone();
    router = router.route(
        "/timeline/{id}",
        get(move |uri: Uri, headers: HeaderMap, params: RawPathParams| {
            let s = s.clone();
            async move {
                if let Err(refused) = operator(&s, &uri, &headers).await {
                    return from_core(refused);
                }
                let id = params
                    .iter()
                    .next()
                    .map(|(_, v)| decode(v))
                    .unwrap_or_default();
                from_core(pages::timeline(&s, &id).await)
            }
        }),
    );
    let s = stack.clone();
    router = router.route(
        "/outbox",
        get(move |uri: Uri, headers: HeaderMap| {
            let s = s.clone();
            async move {
                if let Err(refused) = operator(&s, &uri, &headers).await {
                    return from_core(refused);
                }
                let json = headers
                    .get("accept")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| a.contains("application/json"));
                from_core(pages::outbox(&s, json).await)
            }
        }),
    );
    router = router.route("/healthz", get(|| async { "ok" }));
    let bound = stack.public_url.clone();
    Ok(router
        .fallback(|| async { from_core(HttpResponse::error(404, "not_found", "no such route")) })
        // API Gateway's own limit; each route refuses what it will not take
        // (a webhook carrying documents is allowed more than one without).
        .layer(axum::extract::DefaultBodyLimit::max(
            API_GATEWAY_MAX_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let bound = bound.clone();
                async move {
                    let host = req.headers().get("host").and_then(|h| h.to_str().ok());
                    if crate::access::host_allowed(host, &bound) {
                        next.run(req).await
                    } else {
                        from_core(HttpResponse::error(
                            421,
                            "wrong_host",
                            "this server answers only to the address it is bound to",
                        ))
                    }
                }
            },
        )))
}

/// The local console's own pages (timeline, outbox) are the
/// operator's: a session from the login link or an operator token. A
/// browser without one is sent to sign in.
async fn operator(stack: &Stack, uri: &Uri, headers: &HeaderMap) -> Result<(), HttpResponse> {
    let req = to_core(Method::GET, uri, headers, BTreeMap::new(), Bytes::new());
    match stack.read_api.caller(&req, Scope::Read).await {
        Ok(claims) if claims.allows(Scope::AllWorkflows) => Ok(()),
        Ok(claims) => Err(HttpResponse::error(
            403,
            "operator_only",
            &format!(
                "`{}` may read runs at /runs; the local console is the operator's",
                claims.sub
            ),
        )),
        Err(ReadError::Unauthorized(_)) if !req.wants_json() => {
            Err(HttpResponse::see_other("/login", None))
        }
        Err(e) => Err(e.response()),
    }
}

/// `GET /login?code=…`: the one-time link `handoff up` printed becomes an
/// operator session; without a code, the sign-in form every deployment has.
async fn login(stack: &Stack, uri: &Uri, headers: &HeaderMap) -> HttpResponse {
    let req = to_core(Method::GET, uri, headers, BTreeMap::new(), Bytes::new());
    let Some(code) = req.query.get("code") else {
        return stack.read_api.handle(&req).await;
    };
    if !stack.login.redeem(code) {
        return HttpResponse::html(
            401,
            handoff_core::pages::login::render(Some(
                "This login link was used already or is wrong. Sign in with a token \
                 (`handoff token --operator`) or restart `handoff up` for a new link.",
            )),
        );
    }
    let (token, claims) = stack.operator_token();
    let cookie = tokens::session_cookie(&token, &claims, chrono::Utc::now(), false);
    HttpResponse::see_other("/", Some(cookie))
}

fn decode(s: &str) -> String {
    urlencoding::decode(s)
        .map(|c| c.into_owned())
        .unwrap_or_else(|_| s.to_string())
}

fn decode_query_part(s: &str) -> String {
    decode(&s.replace('+', " "))
}

/// An axum request as API Gateway hands it to a Lambda.
pub fn to_core(
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    path_params: BTreeMap<String, String>,
    body: Bytes,
) -> HttpRequest {
    let raw_query = uri.query().unwrap_or("").to_string();
    let mut query = BTreeMap::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(decode_query_part(k))
            .or_insert_with(|| decode_query_part(v));
    }
    let mut header_map = BTreeMap::new();
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            header_map
                .entry(name.as_str().to_ascii_lowercase())
                .and_modify(|existing: &mut String| {
                    existing.push(',');
                    existing.push_str(v);
                })
                .or_insert_with(|| v.to_string());
        }
    }
    // API Gateway says how the client connected; locally it is plain http,
    // so session cookies are not marked Secure.
    header_map.insert("x-forwarded-proto".into(), "http".into());
    HttpRequest {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        path_params,
        query,
        raw_query,
        headers: header_map,
        body: body.to_vec(),
    }
}

pub fn from_core(res: HttpResponse) -> Response {
    let mut response = Response::new(Body::from(res.body));
    *response.status_mut() =
        StatusCode::from_u16(res.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in res.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::EMBEDDED_TEMPLATE;

    #[test]
    fn every_template_route_has_a_local_handler() {
        let template = Template::parse(EMBEDDED_TEMPLATE, None).unwrap();
        let routes = resolve_routes(&template).expect("every route resolves");
        assert_eq!(routes.len(), template.routes.len());
        assert!(routes.iter().any(|(m, p, h)| m == Method::POST
            && p == "/webhooks/{workflow}"
            && *h == HttpHandler::Ingest));
        assert!(routes.iter().any(|(m, p, h)| m == Method::POST
            && p == "/approvals/{id}"
            && *h == HttpHandler::Callback));
    }

    #[test]
    fn a_route_to_an_unknown_function_is_refused() {
        let yaml = EMBEDDED_TEMPLATE.replace("Binary: api", "Binary: mystery");
        let template = Template::parse(&yaml, None).unwrap();
        let err = resolve_routes(&template).unwrap_err().to_string();
        assert!(err.contains("no local handler"), "{err}");
    }
}
