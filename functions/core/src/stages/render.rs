//! Templates (drafts, action bodies, URLs) render with minijinja over the
//! run's data; the names match the CEL rule variables.
//!
//! The run's data comes from a webhook and is untrusted. What a value may
//! do depends on where it lands, so each place has its own renderer: in a
//! URL it is percent-encoded and cannot leave the spec's origin, in a
//! header it must be defined, in Slack text it cannot mention or link.
//! The spec's own template text is never escaped.

use minijinja::{Environment, Error, ErrorKind, Output, State, UndefinedBehavior, Value as Jinja};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use crate::domain::{CanonicalEvent, RunId};
use crate::stages::StageError;

/// What templates see: `run`, `event`, `context`, `ai`, `decision`.
pub fn template_data(
    run: &RunId,
    event: &CanonicalEvent,
    context: &Value,
    ai: &Value,
    decision: &Value,
) -> Value {
    json!({
        "run": { "id": run, "workflow": event.workflow },
        "event": event.fields,
        "context": context,
        "ai": ai,
        "decision": decision,
    })
}

/// A body, a subject, a draft: values as they are, a missing one empty.
pub fn render(what: &str, source: &str, data: &Value) -> Result<String, StageError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    render_in(&env, what, source, data)
}

/// An outbound URL. Every value is percent-encoded as one path segment or
/// query component (`../admin?x=1` stays inside its segment; `urlencode`
/// does the same), a missing value is an error, and the result must keep
/// the origin the spec writes out.
pub fn render_url(what: &str, source: &str, data: &Value) -> Result<String, StageError> {
    let origin = handoff_spec::literal_origin(source)
        .map_err(|e| StageError::Invalid(format!("{what}: {e}")))?;
    let mut env = strict_env();
    env.add_filter("urlencode", |value: Jinja| -> Result<Jinja, Error> {
        Ok(Jinja::from_safe_string(url_component(&defined(&value)?)?))
    });
    env.set_formatter(|out: &mut Output, _: &mut State, value: &Jinja| {
        let text = defined(value)?;
        let text = if value.is_safe() {
            text
        } else {
            url_component(&text)?
        };
        out.write_str(&text).map_err(Error::from)
    });
    let rendered = render_in(&env, what, source, data)?;
    let url = url::Url::parse(&rendered)
        .map_err(|e| StageError::Invalid(format!("{what}: `{rendered}` is not a URL: {e}")))?;
    if url.origin() != origin {
        return Err(StageError::Invalid(format!(
            "{what}: the rendered URL left the spec's origin {}",
            origin.ascii_serialization()
        )));
    }
    Ok(url.into())
}

/// A header value: as it is, but a missing value is an error rather than
/// an empty header.
pub fn render_header(what: &str, source: &str, data: &Value) -> Result<String, StageError> {
    let mut env = strict_env();
    env.set_formatter(|out: &mut Output, _: &mut State, value: &Jinja| {
        out.write_str(&defined(value)?).map_err(Error::from)
    });
    render_in(&env, what, source, data)
}

/// Slack mrkdwn: `&`, `<` and `>` in values are escaped (Slack's rules),
/// so text from a webhook cannot `<!channel>` or dress up a link; the
/// template's own markup stays as written.
pub fn render_slack(what: &str, source: &str, data: &Value) -> Result<String, StageError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_formatter(|out: &mut Output, _: &mut State, value: &Jinja| {
        if value.is_undefined() {
            return Ok(());
        }
        let text = value.to_string();
        let text = if value.is_safe() {
            text
        } else {
            crate::notify::slack::escape(&text)
        };
        out.write_str(&text).map_err(Error::from)
    });
    render_in(&env, what, source, data)
}

fn strict_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

fn render_in(
    env: &Environment,
    what: &str,
    source: &str,
    data: &Value,
) -> Result<String, StageError> {
    env.render_str(source, Jinja::from(minijinja::value::Serde(data)))
        .map_err(|e| StageError::Invalid(format!("{what} did not render: {e}")))
}

/// The value as text; undefined and null are errors, not empty strings.
fn defined(value: &Jinja) -> Result<String, Error> {
    if value.is_undefined() || value.is_none() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            "a value this URL or header needs is missing",
        ));
    }
    Ok(value.to_string())
}

/// Everything but RFC 3986's unreserved characters is encoded, `/`, `?`,
/// `#` and `&` included.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One encoded component. `.` and `..` alone would still climb the path
/// after URL normalisation (encoded or not), so they are refused.
fn url_component(text: &str) -> Result<String, Error> {
    if !text.is_empty() && text.chars().all(|c| c == '.') {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`{text}` would change the URL's path"),
        ));
    }
    Ok(utf8_percent_encode(text, COMPONENT).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: &str) -> Value {
        json!({ "event": { "id": value, "sender": "ada@example.com" } })
    }

    #[test]
    fn a_url_value_cannot_change_the_path_or_query() {
        let url = render_url(
            "url",
            "https://api.example.com/tickets/{{ event.id }}.json?who={{ event.sender }}",
            &data("../admin?x=1#f"),
        )
        .unwrap();
        assert_eq!(
            url,
            "https://api.example.com/tickets/..%2Fadmin%3Fx%3D1%23f.json?who=ada%40example.com"
        );
        let parsed = url::Url::parse(&url).unwrap();
        assert!(parsed.path().starts_with("/tickets/"), "{url}");
        assert_eq!(parsed.query_pairs().count(), 1, "{url}");
    }

    #[test]
    fn urlencode_in_a_url_encodes_slashes_once() {
        let url = render_url(
            "url",
            "https://api.example.com/t/{{ event.id | urlencode }}",
            &data("a/../b c"),
        )
        .unwrap();
        assert_eq!(url, "https://api.example.com/t/a%2F..%2Fb%20c");
    }

    #[test]
    fn a_dot_segment_value_is_refused() {
        for dots in [".", ".."] {
            let err = render_url(
                "url",
                "https://api.example.com/t/{{ event.id }}/x",
                &data(dots),
            )
            .unwrap_err();
            assert!(err.to_string().contains("change the URL's path"), "{err}");
        }
    }

    #[test]
    fn an_undefined_value_in_a_url_or_header_is_an_error() {
        let d = data("1");
        for source in [
            "https://api.example.com/t/{{ event.missing }}",
            "https://api.example.com/t/{{ event.missing | urlencode }}",
            "https://api.example.com/t/{{ context.nope.deeper }}",
        ] {
            assert!(render_url("url", source, &d).is_err(), "{source}");
        }
        assert!(render_header("h", "Bearer {{ event.missing }}", &d).is_err());
        assert_eq!(render_header("h", "id {{ event.id }}", &d).unwrap(), "id 1");
    }

    #[test]
    fn a_rendered_url_must_keep_the_specs_origin() {
        let err = render_url("url", "{{ event.id }}", &data("https://evil.example/")).unwrap_err();
        assert!(err.to_string().contains("scheme"), "{err}");
        // `safe` skips the encoding, never the origin check.
        let err = render_url(
            "url",
            "https://api.example.com{{ event.id | safe }}",
            &data(".evil.example/x"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("templated"), "{err}");
    }

    #[test]
    fn slack_values_are_escaped_and_the_template_is_not() {
        let text = render_slack(
            "text",
            "<https://desk.example.com|Ticket> for {{ event.id }}",
            &data("<!channel> & <https://evil.example|bank>"),
        )
        .unwrap();
        assert_eq!(
            text,
            "<https://desk.example.com|Ticket> for &lt;!channel&gt; &amp; &lt;https://evil.example|bank&gt;"
        );
    }
}
