use chrono::{DateTime, SecondsFormat, Utc};

/// Parses the ISO-8601 extended offset date-time AWS accepts: a `T` separator and an explicit
/// zone (`Z` or `±hh:mm`) are required.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The format AWS uses for timestamps in the context object.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn zone_and_t_separator_are_required() {
        assert!(super::parse("2016-03-14T01:59:00Z").is_some());
        assert!(super::parse("2016-03-05T21:29:29.243167252Z").is_some());
        assert!(super::parse("2016-12-05T21:29:29").is_none());
        assert!(super::parse("2016-12-05 21:29:29Z").is_none());
        assert!(super::parse("2016-12-05T25:29:29Z").is_none());
    }
}
