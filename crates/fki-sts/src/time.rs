//! `xs:dateTime` instants as they appear on the wire (`2020-07-02T09:41:59.439Z`, see the
//! assertion in `../shared/specs/sf1514-sts/signed-request-with-issued-assertion.example.xml`).

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats an instant in UTC with millisecond precision and a `Z` suffix.
pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an `xs:dateTime` with an explicit offset (`Z` or `±hh:mm`). Timestamps without an
/// offset are refused: their meaning depends on the sender's clock settings.
pub fn parse(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("invalid dateTime {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = parse("2020-07-02T09:41:59.439Z").unwrap();
        assert_eq!(format(t), "2020-07-02T09:41:59.439Z");
        assert_eq!(parse("2020-07-02T11:41:59.439+02:00").unwrap(), t);
        assert!(parse("2020-07-02T09:41:59").is_err());
    }
}
