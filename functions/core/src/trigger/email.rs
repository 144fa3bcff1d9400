//! Raw e-mail (`message/rfc822`): the message as a payload the spec maps,
//! its attachments as documents, and who vouches for its sender.

use mail_parser::{
    Address, HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use handoff_spec::DocumentIntakeSpec;

use super::attachments::{Attachment, Documents};
use super::BodyError;

/// How deep forwarded messages (`message/rfc822` parts) are opened for
/// their attachments; the parser itself opens encoded ones three deep.
const MAX_NESTED: usize = 3;

/// A message read.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    /// See [`parse_email`].
    pub payload: Value,
    /// The Message-ID, without its angle brackets; a message may have none.
    pub message_id: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// One authentication method's result, as the server that checked it said.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// No result, or nobody we trust said.
    None,
    /// softfail, neutral, temperror, permerror, policy, …
    Other,
}

impl Verdict {
    /// An RFC 8601 result (`pass`, `fail`, `softfail`, …) or an SES
    /// receipt verdict (`PASS`, `FAIL`, `GRAY`, …), in any case.
    pub fn from_result(result: &str) -> Self {
        match result.trim().to_ascii_lowercase().as_str() {
            "pass" => Verdict::Pass,
            // `hardfail` is SPF's older name for `fail` (RFC 8601 §2.7.2).
            "fail" | "hardfail" => Verdict::Fail,
            "none" | "" => Verdict::None,
            _ => Verdict::Other,
        }
    }
}

/// What the receiving server found about the sender.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
pub struct Authentication {
    pub spf: Verdict,
    pub dkim: Verdict,
    pub dmarc: Verdict,
}

impl Authentication {
    /// Nothing known: every verdict `none`.
    pub fn unverified() -> Self {
        Self {
            spf: Verdict::None,
            dkim: Verdict::None,
            dmarc: Verdict::None,
        }
    }

    /// DMARC pass: the From domain is aligned with a passing SPF or DKIM.
    /// The only verdict that says the From header is not forged.
    pub fn sender_authenticated(&self) -> bool {
        self.dmarc == Verdict::Pass
    }

    /// The verdicts of the topmost `Authentication-Results` header (each
    /// header value in the message's order) whose authserv-id is
    /// `authserv_id`, compared without case. Every other header is
    /// ignored: anyone can write one, and a server adds its own above
    /// those it received. With several `dkim` results (one per signature)
    /// one pass is a pass.
    pub fn from_authentication_results(headers: &[&str], authserv_id: &str) -> Self {
        let trusted = authserv_id.trim();
        if trusted.is_empty() {
            return Self::unverified();
        }
        let Some(results) = headers.iter().find_map(|h| {
            let (id, results) = auth_results::parse(h)?;
            id.eq_ignore_ascii_case(trusted).then_some(results)
        }) else {
            return Self::unverified();
        };
        let mut auth = Self::unverified();
        for (method, result) in results {
            let verdict = Verdict::from_result(&result);
            let slot = match method.as_str() {
                "spf" => &mut auth.spf,
                "dkim" => &mut auth.dkim,
                "dmarc" => &mut auth.dmarc,
                _ => continue,
            };
            if *slot == Verdict::None || (method == "dkim" && verdict == Verdict::Pass) {
                *slot = verdict;
            }
        }
        auth
    }

    fn to_json(self) -> Value {
        json!({
            "spf": self.spf,
            "dkim": self.dkim,
            "dmarc": self.dmarc,
            "sender_authenticated": self.sender_authenticated(),
        })
    }
}

/// Parses the message. `auth` comes from the caller: SES's receipt in
/// AWS, or [`Authentication::from_authentication_results`] over the
/// message's own headers with the trusted authserv-id locally (or
/// [`Authentication::unverified`] when the spec names none).
///
/// The payload, which specs map canonical fields from by JSONPath:
///
/// ```json
/// {"message_id": "id@mail.example", "from": "a@b.example", "from_name": "A B",
///  "to": ["c@d.example"], "cc": [], "reply_to": "e@b.example",
///  "subject": "Invoice 42", "date": "2026-01-15T09:30:00+01:00",
///  "text": "the text/plain body, or the HTML one as text",
///  "authentication": {"spf": "pass", "dkim": "pass", "dmarc": "pass",
///                     "sender_authenticated": true},
///  "attachments": [{"name": "invoice.pdf", "media_type": "application/pdf",
///                   "document": 0}]}
/// ```
///
/// A member the message lacks is `null` (the lists are empty). Header
/// values are the sender's text, decoded (RFC 2047) and nothing more.
/// `document` indexes [`Email::attachments`]: every part with a file name
/// or an `attachment` disposition, every image, and those of forwarded
/// messages within, at most `max_count` of at most `max_bytes` each.
pub fn parse_email(
    raw: &[u8],
    auth: Authentication,
    spec: &DocumentIntakeSpec,
) -> Result<Email, BodyError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::NotAnEmail("the body is empty".into()));
    }
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or_else(|| BodyError::NotAnEmail("it has no headers".into()))?;
    if message.header(HeaderName::From).is_none() {
        return Err(BodyError::NotAnEmail("it has no From header".into()));
    }
    let mut documents = Documents::new(spec);
    let mut listed = Vec::new();
    take_attachments(&message, 0, &mut documents, &mut listed)?;

    let message_id = message.message_id().map(str::to_string);
    let from = message.from().and_then(Address::first);
    let payload = json!({
        "message_id": message_id,
        "from": from.and_then(|a| a.address()),
        "from_name": from.and_then(|a| a.name()),
        "to": addresses(message.to()),
        "cc": addresses(message.cc()),
        "reply_to": message.reply_to().and_then(Address::first).and_then(|a| a.address()),
        "subject": message.subject(),
        "date": message.date().filter(|d| d.is_valid()).map(|d| d.to_rfc3339()),
        "text": text(&message),
        "authentication": auth.to_json(),
        "attachments": listed,
    });
    Ok(Email {
        payload,
        message_id,
        attachments: documents.into_vec(),
    })
}

/// The message's `Authentication-Results` header values, topmost first,
/// unparsed: what [`Authentication::from_authentication_results`] reads.
pub fn authentication_results(raw: &[u8]) -> Vec<String> {
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return Vec::new();
    };
    message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authentication-results"))
        .map(|(_, value)| value.trim().to_string())
        .collect()
}

fn addresses(list: Option<&Address<'_>>) -> Vec<String> {
    list.map(|l| {
        l.iter()
            .filter_map(|a| a.address())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// The text bodies in order; an HTML body stands in (as text) only where
/// the message has no plain one.
fn text(message: &Message<'_>) -> Option<String> {
    let bodies: Vec<_> = (0..message.text_body_count())
        .filter_map(|i| message.body_text(i))
        .collect();
    (!bodies.is_empty()).then(|| bodies.join("\n"))
}

fn take_attachments(
    message: &Message<'_>,
    depth: usize,
    documents: &mut Documents<'_>,
    listed: &mut Vec<Value>,
) -> Result<(), BodyError> {
    for part in message.attachments() {
        if let PartType::Message(forwarded) = &part.body {
            if depth < MAX_NESTED {
                take_attachments(forwarded, depth + 1, documents, listed)?;
            }
            continue;
        }
        if !is_document(part) {
            continue;
        }
        documents.next_index()?;
        documents.check_size(part.contents().len())?;
        let name = part.attachment_name().map(str::to_string);
        let media_type = part.content_type().map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        });
        let index = documents.push(Attachment {
            name: name.clone(),
            declared_type: media_type.clone(),
            bytes: part.contents().to_vec(),
        })?;
        listed.push(json!({"name": name, "media_type": media_type, "document": index}));
    }
    Ok(())
}

/// A part with a file name or an `attachment` disposition, or an image
/// (a scan pasted inline is still the document).
fn is_document(part: &MessagePart<'_>) -> bool {
    part.attachment_name().is_some()
        || part
            .content_disposition()
            .is_some_and(|d| d.is_attachment())
        || part
            .content_type()
            .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("image"))
}

/// RFC 8601 `Authentication-Results` values, read by hand: Stalwart's
/// `mail-auth` writes these headers but does not read them, and the one
/// crate that does (`msg-auth-status`) reads no DMARC result and pins an
/// old `mail-parser`. Only what deciding trust needs is read: the
/// authserv-id and each `method=result`; properties and reasons are
/// skipped.
mod auth_results {
    /// The authserv-id and the `(method, result)` pairs, both lowercased
    /// but the id, in order; `None` for a value with no authserv-id.
    pub(super) fn parse(value: &str) -> Option<(String, Vec<(String, String)>)> {
        let value = without_comments(value);
        let mut statements = split_outside_quotes(&value).into_iter();
        let id = unquote(statements.next()?.split_ascii_whitespace().next()?);
        if id.is_empty() {
            return None;
        }
        let results = statements
            .filter_map(|s| {
                let (method, rest) = s.split_once('=')?;
                let method = method.trim();
                if method.is_empty() || method.contains(|c: char| c.is_ascii_whitespace()) {
                    return None;
                }
                // `method/version`: the version changes nothing here.
                let method = method.split('/').next()?.to_ascii_lowercase();
                let result = rest.split_ascii_whitespace().next()?.to_ascii_lowercase();
                Some((method, result))
            })
            .collect();
        Some((id, results))
    }

    /// The value with each comment (`(…)`, nested, `\` escapes) made a
    /// space; quoted strings kept whole.
    fn without_comments(value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let (mut depth, mut quoted) = (0usize, false);
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' if depth > 0 => {
                    chars.next();
                }
                '\\' if quoted => {
                    out.push(c);
                    out.extend(chars.next());
                }
                '"' if depth == 0 => {
                    quoted = !quoted;
                    out.push(c);
                }
                '(' if !quoted => depth += 1,
                ')' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(' ');
                    }
                }
                _ if depth > 0 => {}
                _ => out.push(c),
            }
        }
        out
    }

    fn split_outside_quotes(value: &str) -> Vec<&str> {
        let mut parts = Vec::new();
        let (mut start, mut quoted, mut escaped) = (0, false, false);
        for (i, c) in value.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ';' if !quoted => {
                    parts.push(&value[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&value[start..]);
        parts
    }

    fn unquote(token: &str) -> String {
        match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(inner) => {
                let mut out = String::with_capacity(inner.len());
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        out.extend(chars.next());
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            None => token.to_string(),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::parse;

        #[test]
        fn comments_quotes_and_versions_are_read_past() {
            let (id, results) = parse(
                "mx.example.com (Postfix) 1; spf=pass (sender \"x; dmarc=pass\") smtp.mailfrom=a@b.example;\r\n\tdkim/1=FAIL header.d=\"b;c\" ; dmarc = pass",
            )
            .unwrap();
            assert_eq!(id, "mx.example.com");
            let pairs: Vec<_> = results
                .iter()
                .map(|(m, r)| (m.as_str(), r.as_str()))
                .collect();
            assert_eq!(
                pairs,
                [("spf", "pass"), ("dkim", "fail"), ("dmarc", "pass")]
            );
            assert_eq!(
                parse("\"mx.example.com\"; none").unwrap().0,
                "mx.example.com"
            );
            assert!(parse("  ; spf=pass").is_none());
            assert!(parse("").is_none());
        }
    }
}
