//! The sign-in page: a reviewer pastes a token (from `handoff token`) and
//! the browser keeps it as an HttpOnly session cookie.

use maud::html;

use super::layout;

pub fn render(error: Option<&str>) -> String {
    layout(
        "Sign in",
        html! {
            h1 { "Sign in to handoff" }
            @if let Some(error) = error {
                p.notice role="alert" { (error) }
            }
            p.muted {
                "Run data is shown only to the reviewers of its workflow. "
                "Paste your reviewer token (an operator issues it with "
                code { "handoff token" } ")."
            }
            form method="post" action="/login" {
                label for="token" { "Reviewer token" }
                input #token type="password" name="token" autocomplete="off" required;
                div.actions { button type="submit" { "Sign in" } }
            }
        },
    )
}
