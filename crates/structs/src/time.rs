//! Time formatting without a clock: callers pass Unix nanoseconds in.

/// Formats Unix nanoseconds as Go's RFC3339Nano in UTC (`2026-11-25T12:00:00.123456789Z`).
pub fn rfc3339(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // Go's RFC3339Nano drops trailing zeros of the fraction, and the dot with them.
    let fraction = format!(".{frac:09}");
    let fraction = fraction.trim_end_matches('0').trim_end_matches('.');
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses an RFC 3339 time (as `rfc3339` writes and Go marshals) to Unix nanoseconds;
/// `None` for Go's zero time or anything unparsable.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    if text.is_empty() || text == crate::ZERO_TIME {
        return None;
    }
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    i64::try_from(timestamp.as_nanosecond()).ok()
}

/// Go's `time.Duration.String()`: `0s`, `300ms`, `1.5s`, `1m30s`, `30m0s`, `24h0m0s`.
pub use crate::duration::format_duration;

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_round_trips() {
        let nanos = 1_795_000_000_123_000_000;
        assert_eq!(super::parse_rfc3339(&super::rfc3339(nanos)), Some(nanos));
        assert_eq!(super::parse_rfc3339(crate::ZERO_TIME), None);
        assert_eq!(super::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn go_durations() {
        let s = 1_000_000_000;
        let cases = [
            (0, "0s"),
            (5 * s, "5s"),
            (90 * s, "1m30s"),
            (1800 * s, "30m0s"),
            (86_400 * s, "24h0m0s"),
            (16_500_000_000, "16.5s"),
            (300_000_000, "300ms"),
            (1_500_000, "1.5ms"),
        ];
        for (nanos, want) in cases {
            assert_eq!(super::format_duration(nanos), want);
        }
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::rfc3339(1_795_000_000_123_000_000),
            "2026-11-18T11:06:40.123Z"
        );
    }
}
