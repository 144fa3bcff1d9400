//! Where an outbound URL template may point: its scheme, host and port are
//! written out in the spec, so no value from a webhook can move a request
//! to another system. The validator checks it at build time and the stages
//! check every rendered URL against it again.

use url::{Origin, Url};

/// The literal origin of a URL template (`https://api.example.com/{{ x }}`
/// → `https://api.example.com`), or why it has none: no http(s) scheme, or
/// a template expression in the scheme, user info, host or port.
pub fn literal_origin(template: &str) -> Result<Origin, String> {
    let Some((scheme, rest)) = template.split_once("://") else {
        return Err(format!(
            "`{template}` has no http:// or https:// scheme written out"
        ));
    };
    if has_template(scheme) {
        return Err(format!(
            "`{template}`: the scheme is templated; write the scheme and host out in the spec"
        ));
    }
    if scheme != "https" && scheme != "http" {
        return Err(format!("`{template}` has no http:// or https:// scheme"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if has_template(authority) {
        return Err(format!(
            "`{template}`: the host or port is templated; write them out in the spec and template the path or query only"
        ));
    }
    let url = Url::parse(&format!("{scheme}://{authority}/"))
        .map_err(|e| format!("`{template}`: {e}"))?;
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(url.origin()),
        _ => Err(format!("`{template}` names no host")),
    }
}

/// Whether text holds minijinja syntax (an expression, a statement or a
/// comment).
pub fn has_template(text: &str) -> bool {
    ["{{", "{%", "{#"].iter().any(|open| text.contains(open))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_templated_path_keeps_a_literal_origin() {
        let origin =
            literal_origin("https://api.example.com:8443/t/{{ event.id }}?q={{ x }}").unwrap();
        assert_eq!(origin.ascii_serialization(), "https://api.example.com:8443");
    }

    #[test]
    fn a_templated_scheme_host_port_or_user_is_refused() {
        assert!(literal_origin("{{ event.url }}")
            .unwrap_err()
            .contains("no http:// or https:// scheme"));
        for url in [
            "{{ s }}://api.example.com/x",
            "https://{{ event.host }}/x",
            "https://api.{{ event.tenant }}.example.com/x",
            "https://api.example.com:{{ event.port }}/x",
            "https://{{ u }}@api.example.com/x",
            "https://api.example.com{{ event.path }}",
            "https://api.example.com{% if x %}.evil{% endif %}/x",
        ] {
            let err = literal_origin(url).unwrap_err();
            assert!(err.contains("templated"), "{url}: {err}");
        }
    }

    #[test]
    fn only_http_and_https_with_a_host() {
        assert!(literal_origin("ftp://files.example.com/x").is_err());
        assert!(literal_origin("https:///x").is_err());
        assert!(literal_origin("api.example.com/x").is_err());
    }
}
