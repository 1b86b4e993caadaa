//! Instants on both time axes.
//!
//! An instant is an `i64` count of microseconds since 1970-01-01T00:00:00Z (PostgreSQL's
//! resolution), with `i64::MIN` for `-infinity` and `i64::MAX` for `infinity`. Every period is
//! half-open `[from, to)`. The same integers are stored in both SQL backends, so period
//! arithmetic is plain integer comparison everywhere.
//!
//! Input accepts the timestamp literals LoRa's clients send (PostgreSQL's input syntax, the useful
//! subset): `2020-01-01`, `2020-01-01 12:00`, `2020-01-01T12:00:00.5+02:00`, `…Z`, `…+02`,
//! `infinity`, `-infinity`, `now`, `today`, `tomorrow`, `yesterday`, `epoch`. A literal without a
//! zone is read in Europe/Copenhagen, the session zone LoRa configures (contract §2.2), so the same
//! request means the same instant on fki as on LoRa. Output uses the same zone.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc,
};
use chrono_tz::Europe::Copenhagen;

pub type Ts = i64;
pub const NEG_INF: Ts = i64::MIN;
pub const POS_INF: Ts = i64::MAX;

/// The current instant.
pub fn now() -> Ts {
    Utc::now().timestamp_micros()
}

/// Parse a timestamp literal. The error is a human-readable reason.
pub fn parse(input: &str) -> Result<Ts, String> {
    let s = input.trim();
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "infinity" | "+infinity" => return Ok(POS_INF),
        "-infinity" => return Ok(NEG_INF),
        "epoch" => return Ok(0),
        "now" => return Ok(now()),
        "today" | "tomorrow" | "yesterday" => {
            let today = Utc::now().with_timezone(&Copenhagen).date_naive();
            let day = match lower.as_str() {
                "today" => today,
                "tomorrow" => today + Duration::days(1),
                _ => today - Duration::days(1),
            };
            return local_to_ts(day.and_time(NaiveTime::MIN));
        }
        _ => {}
    }
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    // Split off a zone: `Z`, ` UTC`, `+HH`, `+HHMM`, `+HH:MM` (also `-`), after the time part.
    let (body, zone) = split_zone(s)?;
    let naive = parse_naive(body).ok_or_else(|| {
        format!(
            "invalid timestamp '{input}': expected e.g. 2020-01-31 or 2020-01-31T12:00:00+01:00"
        )
    })?;
    match zone {
        Some(off) => {
            let dt = off
                .from_local_datetime(&naive)
                .single()
                .ok_or_else(|| format!("invalid timestamp '{input}'"))?;
            Ok(dt.timestamp_micros())
        }
        None => local_to_ts(naive),
    }
}

fn local_to_ts(naive: NaiveDateTime) -> Result<Ts, String> {
    match Copenhagen.from_local_datetime(&naive) {
        LocalResult::Single(dt) => Ok(dt.timestamp_micros()),
        // In the autumn overlap PostgreSQL takes the earlier (summer-time) reading.
        LocalResult::Ambiguous(a, _) => Ok(a.timestamp_micros()),
        // In the spring gap PostgreSQL reads the wall time with the offset before the gap.
        LocalResult::None => {
            let before = Copenhagen
                .from_local_datetime(&(naive - Duration::hours(1)))
                .earliest()
                .ok_or("timestamp falls in a time-zone gap")?;
            let off = before.offset().fix();
            Ok(off
                .from_local_datetime(&naive)
                .single()
                .ok_or("timestamp falls in a time-zone gap")?
                .timestamp_micros())
        }
    }
}

fn split_zone(s: &str) -> Result<(&str, Option<FixedOffset>), String> {
    if let Some(b) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Ok((
            b.trim_end(),
            Some(FixedOffset::east_opt(0).expect("zero offset")),
        ));
    }
    for suffix in [" UTC", " utc", " GMT", " gmt"] {
        if let Some(b) = s.strip_suffix(suffix) {
            return Ok((
                b.trim_end(),
                Some(FixedOffset::east_opt(0).expect("zero offset")),
            ));
        }
    }
    // A sign after the time part (position > 10 skips the date's own dashes).
    let bytes = s.as_bytes();
    if let Some(pos) = (11..bytes.len())
        .rev()
        .find(|&i| bytes[i] == b'+' || bytes[i] == b'-')
    {
        let (body, z) = s.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) || digits.is_empty() || digits.len() > 4 {
            return Err(format!("invalid time zone '{z}'"));
        }
        let (h, m) = match digits.len() {
            1 | 2 => (digits.parse::<i32>().unwrap_or(99), 0),
            3 | 4 => {
                let (h, m) = digits.split_at(digits.len() - 2);
                (
                    h.parse::<i32>().unwrap_or(99),
                    m.parse::<i32>().unwrap_or(99),
                )
            }
            _ => unreachable!(),
        };
        if h > 15 || m > 59 {
            return Err(format!("invalid time zone '{z}'"));
        }
        let off = FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .ok_or_else(|| format!("invalid time zone '{z}'"))?;
        return Ok((body.trim_end(), Some(off)));
    }
    Ok((s, None))
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_time(NaiveTime::MIN));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt);
        }
    }
    None
}

fn to_local(ts: Ts) -> Option<DateTime<chrono_tz::Tz>> {
    DateTime::<Utc>::from_timestamp_micros(ts).map(|d| d.with_timezone(&Copenhagen))
}

fn fmt_offset(secs: i32, colon: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    let (h, m) = (a / 3600, (a % 3600) / 60);
    match (m, colon) {
        (0, false) => format!("{sign}{h:02}"),
        (_, false) => format!("{sign}{h:02}:{m:02}"),
        (_, true) => format!("{sign}{h:02}:{m:02}"),
    }
}

/// PostgreSQL's text form of a `timestamptz` in Europe/Copenhagen: `2020-01-01 00:00:00+01`,
/// `2020-06-01 12:30:00.25+02`, `infinity`, `-infinity`. This is how LoRa prints `virkning`.
pub fn format_pg(ts: Ts) -> String {
    match ts {
        POS_INF => "infinity".into(),
        NEG_INF => "-infinity".into(),
        _ => match to_local(ts) {
            Some(d) => {
                let frac = d.timestamp_subsec_micros();
                let mut out = d.format("%Y-%m-%d %H:%M:%S").to_string();
                if frac != 0 {
                    let f = format!(".{frac:06}");
                    out.push_str(f.trim_end_matches('0'));
                }
                if d.year() < 1 {
                    out.push_str(" BC");
                }
                out.push_str(&fmt_offset(d.offset().fix().local_minus_utc(), false));
                out
            }
            None => ts.to_string(),
        },
    }
}

/// ISO 8601 with `T` and microseconds, Europe/Copenhagen offset: how LoRa prints registrering
/// bounds (`tidsstempeldatotid`).
pub fn format_iso(ts: Ts) -> String {
    match ts {
        POS_INF => "infinity".into(),
        NEG_INF => "-infinity".into(),
        _ => match to_local(ts) {
            Some(d) => {
                let frac = d.timestamp_subsec_micros();
                let mut out = d.format("%Y-%m-%dT%H:%M:%S").to_string();
                if frac != 0 {
                    out.push_str(&format!(".{frac:06}"));
                }
                out.push_str(&fmt_offset(d.offset().fix().local_minus_utc(), true));
                out
            }
            None => ts.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Ts {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
    }

    #[test]
    fn zoneless_literals_are_copenhagen_time() {
        assert_eq!(parse("2020-01-01").unwrap(), utc("2019-12-31T23:00:00Z"));
        assert_eq!(
            parse("2020-07-01 12:00").unwrap(),
            utc("2020-07-01T10:00:00Z")
        );
        assert_eq!(
            parse("2020-07-01T12:00:00.5").unwrap(),
            utc("2020-07-01T10:00:00.5Z")
        );
    }

    #[test]
    fn zoned_literals() {
        assert_eq!(
            parse("2020-01-01T00:00:00Z").unwrap(),
            utc("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            parse("2020-01-01 12:00:00+02").unwrap(),
            utc("2020-01-01T10:00:00Z")
        );
        assert_eq!(
            parse("2020-01-01 12:00:00+0530").unwrap(),
            utc("2020-01-01T06:30:00Z")
        );
        assert_eq!(
            parse("2020-01-01T12:00:00-01:00").unwrap(),
            utc("2020-01-01T13:00:00Z")
        );
        assert_eq!(
            parse("2020-01-01 12:00:00 UTC").unwrap(),
            utc("2020-01-01T12:00:00Z")
        );
    }

    #[test]
    fn infinities_and_words() {
        assert_eq!(parse("infinity").unwrap(), POS_INF);
        assert_eq!(parse("-Infinity").unwrap(), NEG_INF);
        assert_eq!(parse("epoch").unwrap(), 0);
        assert!(parse("now").unwrap() > utc("2024-01-01T00:00:00Z"));
    }

    #[test]
    fn garbage_is_refused() {
        for s in [
            "",
            "2020-13-01",
            "yesterday-ish",
            "2020-01-01T25:00",
            "2020-01-01 12:00+99",
        ] {
            assert!(parse(s).is_err(), "{s} parsed");
        }
    }

    #[test]
    fn dst_edges_follow_postgresql() {
        // 2021-10-31 02:30 happens twice; PostgreSQL takes the summer-time (earlier) reading.
        assert_eq!(
            parse("2021-10-31 02:30").unwrap(),
            utc("2021-10-31T00:30:00Z")
        );
        // 2021-03-28 02:30 does not exist; PostgreSQL reads it with the winter offset.
        assert_eq!(
            parse("2021-03-28 02:30").unwrap(),
            utc("2021-03-28T01:30:00Z")
        );
    }

    #[test]
    fn pg_and_iso_output() {
        assert_eq!(
            format_pg(parse("2020-01-01").unwrap()),
            "2020-01-01 00:00:00+01"
        );
        assert_eq!(
            format_pg(utc("2020-06-01T10:30:00.25Z")),
            "2020-06-01 12:30:00.25+02"
        );
        assert_eq!(format_pg(POS_INF), "infinity");
        assert_eq!(format_pg(NEG_INF), "-infinity");
        assert_eq!(
            format_iso(utc("2021-05-03T09:15:22.104233Z")),
            "2021-05-03T11:15:22.104233+02:00"
        );
        assert_eq!(
            format_iso(utc("2021-01-03T09:15:22Z")),
            "2021-01-03T10:15:22+01:00"
        );
    }

    #[test]
    fn output_parses_back_to_the_same_instant() {
        for ts in [
            0,
            1,
            1_600_000_000_123_456,
            -86_400_000_000 * 365 * 50,
            POS_INF,
            NEG_INF,
        ] {
            assert_eq!(parse(&format_pg(ts)).unwrap(), ts, "{}", format_pg(ts));
            assert_eq!(parse(&format_iso(ts)).unwrap(), ts, "{}", format_iso(ts));
        }
    }
}
