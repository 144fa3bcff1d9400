//! Reviewer tokens: the bearer credential of the read side (`GET /runs`,
//! `GET /runs/{id}`, the dashboard) and of feedback and redrive.
//!
//! `hrt1.<claims>.<sig>`: base64url JSON claims and their HMAC under the
//! token key, a secret of its own. The link secret never signs a token, so
//! a function that checks tokens cannot forge approval links, and a leaked
//! token key cannot cast votes. A token names its reviewer, its scopes, an
//! id and a lifetime of at most [`MAX_LIFETIME_SECONDS`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::links::{sign_message, verify_message, LinkError};
use crate::ports::Secret;

const PREFIX: &str = "hrt1";
/// The signed message starts with this; an approval link's starts with a
/// hex approval id, so neither signature can pass for the other.
const CONTEXT: &str = "handoff-token";
/// No token outlives this, whatever its issuer asked for: 30 days.
pub const MAX_LIFETIME_SECONDS: i64 = 30 * 24 * 3600;
/// The name of the cookie a browser session keeps its token in.
pub const SESSION_COOKIE: &str = "handoff_session";

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read the runs of the workflows the reviewer reviews.
    Read,
    /// Correct the AI of a run the reviewer reviewed.
    Feedback,
    /// Start a failed run again.
    Redrive,
    /// Every workflow, not only the reviewer's: operators.
    AllWorkflows,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Read,
        Scope::Feedback,
        Scope::Redrive,
        Scope::AllWorkflows,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Feedback => "feedback",
            Scope::Redrive => "redrive",
            Scope::AllWorkflows => "all_workflows",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A verified token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The reviewer's address.
    pub sub: String,
    pub scp: Vec<Scope>,
    /// Unique per token, so one can be named (and revoked) on its own.
    pub jti: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
}

impl Claims {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scp.contains(&scope)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid")]
    Invalid,
    #[error("the token expired")]
    Expired,
    #[error("a token lives at most {MAX_LIFETIME_SECONDS} s; asked for {0} s")]
    TooLong(i64),
    #[error("a token needs a reviewer and at least one scope")]
    Empty,
}

/// A token for `reviewer` with `scopes`, valid from `now` for `lifetime`
/// seconds.
pub fn issue(
    key: &Secret,
    reviewer: &str,
    scopes: &[Scope],
    now: DateTime<Utc>,
    lifetime: i64,
) -> Result<(String, Claims), TokenError> {
    if !(1..=MAX_LIFETIME_SECONDS).contains(&lifetime) {
        return Err(TokenError::TooLong(lifetime));
    }
    let reviewer = reviewer.trim();
    if reviewer.is_empty() || reviewer.chars().any(char::is_control) || scopes.is_empty() {
        return Err(TokenError::Empty);
    }
    let mut scp = scopes.to_vec();
    scp.sort();
    scp.dedup();
    let claims = Claims {
        sub: reviewer.to_string(),
        scp,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + lifetime,
    };
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialise"));
    let sig = sign_message(key, &message(&body));
    Ok((format!("{PREFIX}.{body}.{sig}"), claims))
}

/// The claims of a genuine, unexpired token. The signature is checked
/// before anything else, so only a genuine token is told that it expired.
pub fn verify(key: &Secret, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(PREFIX), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    verify_message(key, &message(body), sig).map_err(|_: LinkError| TokenError::Invalid)?;
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Invalid)?;
    if claims.exp - claims.iat > MAX_LIFETIME_SECONDS {
        return Err(TokenError::TooLong(claims.exp - claims.iat));
    }
    if now.timestamp() >= claims.exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

fn message(body: &str) -> String {
    format!("{CONTEXT}\n{body}")
}

/// A cookie's value from a `Cookie` header (`a=1; b=2`).
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split([';', ','])
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that keeps `token` as a browser session until it
/// expires: HttpOnly (no script reads it), SameSite=Strict (no other site's
/// page sends it), Secure unless the site is plain http (local runs).
pub fn session_cookie(token: &str, claims: &Claims, now: DateTime<Utc>, secure: bool) -> String {
    let max_age = (claims.exp - now.timestamp()).max(0);
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApprovalId;
    use crate::links::sign_link;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn key() -> Secret {
        Secret::new("k".repeat(32))
    }

    #[test]
    fn a_token_names_its_reviewer_and_scopes_and_expires() {
        let (token, issued) = issue(
            &key(),
            "first.last@x.example",
            &[Scope::Read, Scope::Feedback],
            now(),
            60,
        )
        .unwrap();
        let claims = verify(&key(), &token, now()).unwrap();
        assert_eq!(claims, issued);
        assert_eq!(claims.sub, "first.last@x.example");
        assert!(claims.allows(Scope::Read) && claims.allows(Scope::Feedback));
        assert!(!claims.allows(Scope::Redrive) && !claims.allows(Scope::AllWorkflows));
        let later = now() + chrono::Duration::seconds(60);
        assert_eq!(verify(&key(), &token, later), Err(TokenError::Expired));
    }

    #[test]
    fn each_token_has_its_own_id() {
        let a = issue(&key(), "r@x", &[Scope::Read], now(), 60).unwrap().1;
        let b = issue(&key(), "r@x", &[Scope::Read], now(), 60).unwrap().1;
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn tampered_claims_or_another_key_are_refused() {
        let (token, _) = issue(&key(), "r@x", &[Scope::Read], now(), 60).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let forged = Claims {
            sub: "r@x".into(),
            scp: vec![Scope::Read, Scope::AllWorkflows],
            jti: "x".into(),
            iat: now().timestamp(),
            exp: now().timestamp() + 60,
        };
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            verify(&key(), &parts.join("."), now()),
            Err(TokenError::Invalid)
        );
        let other = Secret::new("o".repeat(32));
        assert_eq!(verify(&other, &token, now()), Err(TokenError::Invalid));
        assert_eq!(verify(&key(), "r@x.1.abc", now()), Err(TokenError::Invalid));
    }

    #[test]
    fn no_token_lives_longer_than_the_maximum() {
        assert_eq!(
            issue(
                &key(),
                "r@x",
                &[Scope::Read],
                now(),
                MAX_LIFETIME_SECONDS + 1
            )
            .map(|t| t.0),
            Err(TokenError::TooLong(MAX_LIFETIME_SECONDS + 1))
        );
        // Even one signed with the key by other means is refused.
        let claims = Claims {
            sub: "r@x".into(),
            scp: vec![Scope::Read],
            jti: "x".into(),
            iat: now().timestamp(),
            exp: now().timestamp() + MAX_LIFETIME_SECONDS + 1,
        };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        let token = format!("{PREFIX}.{body}.{}", sign_message(&key(), &message(&body)));
        assert!(matches!(
            verify(&key(), &token, now()),
            Err(TokenError::TooLong(_))
        ));
    }

    #[test]
    fn a_link_signature_is_not_a_token() {
        let id = ApprovalId::random();
        let exp = now().timestamp() + 60;
        let sig = sign_link(&key(), &id, "r@x", exp);
        assert_eq!(
            verify(&key(), &format!("{PREFIX}.{id}.{sig}"), now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_kept_from_scripts() {
        let h = Some("a=1; handoff_session=hrt1.x.y ; b=2");
        assert_eq!(cookie(h, SESSION_COOKIE), Some("hrt1.x.y"));
        assert_eq!(cookie(Some("a=1"), SESSION_COOKIE), None);
        let (token, claims) = issue(&key(), "r@x", &[Scope::Read], now(), 60).unwrap();
        let set = session_cookie(&token, &claims, now(), true);
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=60",
            "Path=/",
        ] {
            assert!(set.contains(part), "{set}");
        }
    }
}
