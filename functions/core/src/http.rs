//! Plain HTTP request and response types, so the API Gateway adapter and the
//! local gateway call the same route handlers.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// The raw path, e.g. `/webhooks/support-triage`.
    pub path: String,
    pub path_params: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    /// The query string as sent, without `?` (signature schemes sign it).
    pub raw_query: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The raw bytes as sent (already base64-decoded by the adapter).
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// True when the client asked for JSON rather than a page.
    pub fn wants_json(&self) -> bool {
        self.header("accept")
            .is_some_and(|a| a.contains("application/json"))
    }
}

/// An error a route answers with. Each error type decides its status and
/// stable code in one place; the message is its `Display`.
pub trait ApiError: std::fmt::Display {
    fn status(&self) -> u16;
    fn code(&self) -> &'static str;

    /// `{"error": code, "message": message}` with the status.
    fn response(&self) -> HttpResponse {
        HttpResponse::error(self.status(), self.code(), &self.to_string())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).expect("JSON values serialise"),
        }
    }

    /// A JSON error body with a stable code and a human message.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({ "error": code, "message": message }),
        )
    }

    pub fn html(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type".into(), "text/html; charset=utf-8".into()),
                (
                    "content-security-policy".into(),
                    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'".into(),
                ),
                ("referrer-policy".into(), "no-referrer".into()),
                ("x-content-type-options".into(), "nosniff".into()),
                ("cache-control".into(), "no-store".into()),
            ],
            body: body.into_bytes(),
        }
    }

    /// `303 See Other` to `location`, optionally setting a cookie.
    pub fn see_other(location: &str, cookie: Option<String>) -> Self {
        let mut headers = vec![
            ("location".into(), location.into()),
            ("cache-control".into(), "no-store".into()),
        ];
        headers.extend(cookie.map(|c| ("set-cookie".into(), c)));
        Self {
            status: 303,
            headers,
            body: Vec::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}
