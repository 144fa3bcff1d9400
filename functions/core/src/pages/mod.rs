//! Server-rendered pages. maud escapes every interpolated value, the pages
//! carry no script and work without JavaScript; `HttpResponse::html` adds
//! the CSP and no-referrer headers.

pub mod approval;
pub mod audit;
pub mod console;
pub mod dashboard;
pub mod login;

use maud::{html, Markup, DOCTYPE};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;line-height:1.45}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{width:11rem;color:#555;font-weight:600}pre{white-space:pre-wrap;background:#f5f5f7;padding:.6rem;border-radius:4px}\
textarea{width:100%;min-height:9rem;font:inherit}input[type=text],select{font:inherit;padding:.3rem;width:100%}\
.actions{display:flex;gap:1rem;margin-top:1rem}button{font:inherit;padding:.5rem 1.4rem;border-radius:4px;border:1px solid #888;cursor:pointer}\
button.approve{background:#0a7d32;color:#fff;border-color:#0a7d32}button.reject{background:#b3261e;color:#fff;border-color:#b3261e}\
.notice{background:#fff6d6;border:1px solid #e6c200;padding:.6rem;border-radius:4px}.muted{color:#666}\
.document-review{display:grid;grid-template-columns:minmax(0,3fr) minmax(16rem,2fr);gap:1.2rem;width:min(86rem,94vw);position:relative;left:50%;transform:translateX(-50%)}\
.pages img{display:block;width:100%;border:1px solid #ccc;margin-bottom:.8rem;background:#fff}textarea.json{min-height:5rem;font-family:ui-monospace,monospace}";

/// A complete HTML document.
pub fn layout(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { (title) " · handoff" }
                style { (STYLE) }
            }
            body {
                main { (body) }
            }
        }
    }
    .into_string()
}

/// A page that only says what happened: errors, outcomes, notices.
pub fn message(title: &str, message: &str) -> String {
    layout(
        title,
        html! {
            h1 { (title) }
            p { (message) }
        },
    )
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
