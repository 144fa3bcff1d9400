//! Signed approval links (reviewer tokens, signed with their own key, are
//! in [`crate::tokens`]).
//!
//! A link is a capability for one reviewer and one approval until one
//! instant: `?r=<reviewer>&exp=<unix>&sig=<HMAC>`. The task token stays in
//! the run store; the link only names the approval. Signing uses the
//! secret's current value and verification accepts every value of a
//! rotation, so links sent before a rotation keep working until they expire.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use crate::domain::{ApprovalId, RunId};
use crate::ports::Secret;
use crate::signing;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link's signature does not match")]
    BadSignature,
    #[error("the link expired")]
    Expired,
    #[error("malformed link: {0}")]
    Malformed(&'static str),
}

impl LinkError {
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::BadSignature => "bad_signature",
            LinkError::Expired => "expired",
            LinkError::Malformed(_) => "malformed_link",
        }
    }
}

/// What a verified link grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaims {
    pub reviewer: String,
    /// Unix seconds.
    pub expires: i64,
}

pub(crate) fn sign_message(secret: &Secret, message: &str) -> String {
    URL_SAFE_NO_PAD.encode(signing::hmac_sha256(&secret.current, message.as_bytes()))
}

/// Constant-time against every value of the rotation.
pub(crate) fn verify_message(secret: &Secret, message: &str, sig: &str) -> Result<(), LinkError> {
    let digest = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| LinkError::BadSignature)?;
    if signing::verifies_under_any(secret.candidates(), message.as_bytes(), &digest) {
        Ok(())
    } else {
        Err(LinkError::BadSignature)
    }
}

fn link_message(approval: &ApprovalId, reviewer: &str, expires: i64) -> String {
    format!("{approval}\n{reviewer}\n{expires}")
}

/// The `sig` parameter of a link.
pub fn sign_link(secret: &Secret, approval: &ApprovalId, reviewer: &str, expires: i64) -> String {
    sign_message(secret, &link_message(approval, reviewer, expires))
}

/// The query string of a link, without `?`.
pub fn link_query(secret: &Secret, approval: &ApprovalId, reviewer: &str, expires: i64) -> String {
    format!(
        "r={}&exp={expires}&sig={}",
        urlencoding::encode(reviewer),
        sign_link(secret, approval, reviewer, expires)
    )
}

/// The full link one reviewer receives.
pub fn approval_link(
    public_url: &str,
    secret: &Secret,
    approval: &ApprovalId,
    reviewer: &str,
    expires: i64,
) -> String {
    format!(
        "{}/approvals/{approval}?{}",
        public_url.trim_end_matches('/'),
        link_query(secret, approval, reviewer, expires)
    )
}

/// What a blind audit's link is signed over: `audit:<run>`, never an
/// approval id, so an audit link opens no approval and no approval link an
/// audit.
pub fn audit_subject(run: &RunId) -> ApprovalId {
    ApprovalId(format!("audit:{run}"))
}

/// The link the auditor of `run` receives.
pub fn audit_link(
    public_url: &str,
    secret: &Secret,
    run: &RunId,
    auditor: &str,
    expires: i64,
) -> String {
    format!(
        "{}/audits/{run}?{}",
        public_url.trim_end_matches('/'),
        link_query(secret, &audit_subject(run), auditor, expires)
    )
}

/// Checks a link's query parameters (`r`, `exp`, `sig`, already decoded).
/// The signature is checked before the expiry, so only a genuine link is
/// ever told that it expired.
pub fn verify_link(
    secret: &Secret,
    approval: &ApprovalId,
    query: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<LinkClaims, LinkError> {
    let reviewer = query
        .get("r")
        .filter(|r| !r.is_empty())
        .ok_or(LinkError::Malformed("no reviewer"))?;
    if reviewer.chars().any(char::is_control) {
        return Err(LinkError::Malformed("reviewer has control characters"));
    }
    let expires: i64 = query
        .get("exp")
        .ok_or(LinkError::Malformed("no expiry"))?
        .parse()
        .map_err(|_| LinkError::Malformed("expiry is not a number"))?;
    let sig = query
        .get("sig")
        .ok_or(LinkError::Malformed("no signature"))?;
    verify_message(secret, &link_message(approval, reviewer, expires), sig)?;
    if now.timestamp() >= expires {
        return Err(LinkError::Expired);
    }
    Ok(LinkClaims {
        reviewer: reviewer.clone(),
        expires,
    })
}

/// The token from an `Authorization: Bearer <token>` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn query_of(link: &str) -> BTreeMap<String, String> {
        let q = link.split_once('?').unwrap().1;
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), urlencoding::decode(v).unwrap().into_owned())
            })
            .collect()
    }

    #[test]
    fn link_round_trips_and_binds_reviewer_and_approval() {
        let secret = Secret::new("s3cret");
        let id = ApprovalId("ab".repeat(16));
        let exp = now().timestamp() + 60;
        let link = approval_link("https://h.example/", &secret, &id, "a+b@x.example", exp);
        assert!(link.starts_with("https://h.example/approvals/abab"));
        let q = query_of(&link);
        let claims = verify_link(&secret, &id, &q, now()).unwrap();
        assert_eq!(claims.reviewer, "a+b@x.example");

        let mut other = q.clone();
        other.insert("r".into(), "c@x.example".into());
        assert_eq!(
            verify_link(&secret, &id, &other, now()),
            Err(LinkError::BadSignature)
        );
        let other_id = ApprovalId("cd".repeat(16));
        assert_eq!(
            verify_link(&secret, &other_id, &q, now()),
            Err(LinkError::BadSignature)
        );
        let mut later = q.clone();
        later.insert("exp".into(), (exp + 1).to_string());
        assert_eq!(
            verify_link(&secret, &id, &later, now()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn expiry_is_checked_after_the_signature() {
        let secret = Secret::new("s3cret");
        let id = ApprovalId::random();
        let exp = now().timestamp();
        let q = query_of(&approval_link("", &secret, &id, "r@x", exp));
        assert_eq!(
            verify_link(&secret, &id, &q, now()),
            Err(LinkError::Expired)
        );
        let mut forged = q.clone();
        forged.insert("sig".into(), "AAAA".into());
        assert_eq!(
            verify_link(&secret, &id, &forged, now()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn rotation_keeps_old_links_valid() {
        let old = Secret::new("old");
        let id = ApprovalId::random();
        let exp = now().timestamp() + 60;
        let q = query_of(&approval_link("", &old, &id, "r@x", exp));
        let rotated = Secret {
            current: "new".into(),
            previous: Some("old".into()),
        };
        assert!(verify_link(&rotated, &id, &q, now()).is_ok());
        assert_eq!(
            verify_link(&Secret::new("new"), &id, &q, now()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn missing_parameters_are_malformed() {
        let secret = Secret::new("s");
        let id = ApprovalId::random();
        let q = BTreeMap::from([("r".to_string(), "x".to_string())]);
        assert!(matches!(
            verify_link(&secret, &id, &q, now()),
            Err(LinkError::Malformed(_))
        ));
    }
}
