//! Who may use a local stack's pages and read routes: the person who ran
//! `handoff up` (one-time login link, then a session cookie), the local
//! tools (an operator token minted from the data dir's key) and reviewers
//! with tokens, as in AWS. Requests must name the bound address as their
//! `Host`, so a page on another site cannot reach the stack through a DNS
//! name it rebinds to 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Mutex;

use chrono::Utc;
use handoff_core::ports::Secret;
use handoff_core::tokens::{self, Scope};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// The reviewer-token secret's name when the template names none.
pub const TOKEN_SECRET: &str = "reviewer-tokens";
/// Whom the local operator's tokens name.
pub const OPERATOR: &str = "operator@localhost";
/// How long a local operator session or token lasts.
pub const OPERATOR_LIFETIME_SECONDS: i64 = 12 * 3600;

/// A token that reads and changes every workflow's runs, for the person
/// (or tool) holding the data dir's token key.
pub fn operator_token(key: &str) -> (String, tokens::Claims) {
    tokens::issue(
        &Secret::new(key),
        OPERATOR,
        &Scope::ALL,
        Utc::now(),
        OPERATOR_LIFETIME_SECONDS,
    )
    .expect("the operator token's lifetime is within the maximum")
}

/// The code of the login link `handoff up` prints: good for one sign-in.
pub struct LoginCode(Mutex<Option<String>>);

impl Default for LoginCode {
    fn default() -> Self {
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(Mutex::new(Some(hex::encode(bytes))))
    }
}

impl LoginCode {
    /// `/login?code=…` on `base`, while the code is unused.
    pub fn link(&self, base: &str) -> Option<String> {
        let code = self.0.lock().expect("login code lock").clone()?;
        Some(format!("{}/login?code={code}", base.trim_end_matches('/')))
    }

    /// True once for the right code; the code is spent either way it matches.
    pub fn redeem(&self, offered: &str) -> bool {
        let mut code = self.0.lock().expect("login code lock");
        let matches = code
            .as_deref()
            .is_some_and(|c| bool::from(c.as_bytes().ct_eq(offered.as_bytes())));
        if matches {
            *code = None;
        }
        matches
    }
}

/// Whether a request's `Host` names the address the stack is bound to
/// (as `127.0.0.1:PORT` or `localhost:PORT`).
/// `bound` is the stack's URL, `http://127.0.0.1:PORT`.
pub fn host_allowed(host: Option<&str>, bound: &str) -> bool {
    let (Some(host), Some(bound)) = (host, bound_addr(bound)) else {
        return false;
    };
    let port = bound.port();
    host.eq_ignore_ascii_case(&bound.to_string())
        || host.eq_ignore_ascii_case(&format!("localhost:{port}"))
}

fn bound_addr(url: &str) -> Option<SocketAddr> {
    let authority = url.split_once("://").map_or(url, |(_, a)| a);
    authority.trim_end_matches('/').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_code_signs_in_once() {
        let code = LoginCode::default();
        let link = code.link("http://127.0.0.1:3000/").unwrap();
        let offered = link.split("code=").nth(1).unwrap().to_string();
        assert!(!code.redeem("wrong"));
        assert!(code.redeem(&offered));
        assert!(!code.redeem(&offered), "spent");
        assert_eq!(code.link("http://x"), None);
    }

    #[test]
    fn only_the_bound_address_is_a_good_host() {
        let bound = "http://127.0.0.1:3000";
        assert!(host_allowed(Some("127.0.0.1:3000"), bound));
        assert!(host_allowed(Some("LOCALHOST:3000"), bound));
        assert!(!host_allowed(Some("evil.example:3000"), bound));
        assert!(!host_allowed(Some("127.0.0.1:3001"), bound));
        assert!(!host_allowed(None, bound));
    }

    #[test]
    fn the_operator_token_reads_every_workflow() {
        let key = "k".repeat(32);
        let (token, _) = operator_token(&key);
        let claims = tokens::verify(&Secret::new(key), &token, Utc::now()).unwrap();
        assert!(claims.allows(Scope::AllWorkflows) && claims.allows(Scope::Read));
        assert_eq!(claims.sub, OPERATOR);
    }
}
