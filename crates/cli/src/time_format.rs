//! Time formats of Nomad's CLI (`command/helpers.go`).
//!
//! - [`format_time`]: `formatTime`, RFC 3339 to the second in the local zone
//!   (`2026-11-25T12:00:00Z`, `2026-11-25T21:00:00+09:00`); empty before 1970.
//! - [`pretty_time_diff`]: `prettyTimeDiff`, the two largest non-leading units among
//!   `y mo d h m s` plus ` ago` / ` from now` (`42m38s ago`, `2h55m ago`, `0s ago`).

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Nanoseconds in a second.
pub const SECOND: i64 = 1_000_000_000;

/// The current time in Unix nanoseconds.
pub fn now_nanos() -> i64 {
    Timestamp::now().as_nanosecond() as i64
}

/// `formatTime` of Unix nanoseconds in the local zone; empty for times before 1970-01-01T00:00:01Z.
pub fn format_time(unix_nanos: i64) -> String {
    format_time_in(unix_nanos, &TimeZone::system())
}

/// `formatTime` in a given zone (for tests and for callers that pin the zone).
pub fn format_time_in(unix_nanos: i64, tz: &TimeZone) -> String {
    // Nomad: "It's more confusing to display the UNIX epoch or a zero value than nothing".
    if unix_nanos.div_euclid(SECOND) < 1 {
        return String::new();
    }
    let Ok(ts) = Timestamp::from_nanosecond(unix_nanos as i128) else {
        return String::new();
    };
    let zoned = ts.to_zoned_datetime(tz.clone());
    let offset = zoned.offset().seconds();
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.abs();
        format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        zoned.year(),
        zoned.month(),
        zoned.day(),
        zoned.hour(),
        zoned.minute(),
        zoned.second()
    )
}

/// Parses an RFC 3339 time as Nomad's JSON carries it (`TaskState.StartedAt`,
/// `NodeEvent.Timestamp`). Go's zero time (`0001-01-01T00:00:00Z`) and empty strings are
/// `None`.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let ts: Timestamp = text.trim().parse().ok()?;
    if ts.as_second() <= -62_135_596_800 {
        return None;
    }
    i64::try_from(ts.as_nanosecond()).ok()
}

/// Nomad's `prettyTimeDiff(first, now)`; empty when `first` is zero.
///
/// ```
/// use caravan_cli::time_format::pretty_time_diff;
/// let s = 1_000_000_000i64;
/// assert_eq!(pretty_time_diff(100 * s, (100 + 2558) * s), "42m38s ago");
/// ```
pub fn pretty_time_diff(first: i64, now: i64) -> String {
    if first == 0 {
        return String::new();
    }
    // Both times are rounded to the second first (Go's Time.Round rounds halves up).
    let round = |t: i64| (t + SECOND / 2).div_euclid(SECOND);
    let (first, now) = (round(first), round(now));
    let (mut u, suffix) = if now >= first {
        ((now - first) as u64, " ago")
    } else {
        ((first - now) as u64, " from now")
    };
    // Units from the smallest up; each entry is (value, unit).
    let mut parts: Vec<(u64, &str)> = vec![(u % 60, "s")];
    u /= 60;
    if u > 0 {
        parts.push((u % 60, "m"));
        u /= 60;
        if u > 0 {
            parts.push((u % 24, "h"));
            u /= 24;
        }
        if u > 0 {
            parts.push((u % 30, "d"));
            u /= 30;
        }
        if u > 0 {
            parts.push((u % 12, "mo"));
            u /= 12;
        }
        if u > 0 {
            parts.push((u, "y"));
        }
    }
    let mut out = String::new();
    for (value, unit) in parts.iter().rev().take(2) {
        out.push_str(&format!("{value}{unit}"));
    }
    out.push_str(suffix);
    out
}

/// Go's `time.Duration.String()` of nanoseconds: `0s`, `750ms`, `1.5µs`, `10s`,
/// `1m30s`, `2h0m0s`.
///
/// ```
/// use caravan_cli::time_format::go_duration;
/// assert_eq!(go_duration(90_000_000_000), "1m30s");
/// ```
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    // `whole.fraction` of `u` in units of 10^digits nanoseconds, zeros trimmed.
    let fixed = |u: u64, digits: u32| -> String {
        let unit = 10u64.pow(digits);
        let frac = u % unit;
        if frac == 0 {
            return (u / unit).to_string();
        }
        let frac = format!("{frac:0width$}", width = digits as usize);
        format!("{}.{}", u / unit, frac.trim_end_matches('0'))
    };
    let body = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}\u{b5}s", fixed(u, 3))
    } else if u < SECOND as u64 {
        format!("{}ms", fixed(u, 6))
    } else {
        let whole_seconds = u / SECOND as u64;
        let seconds = fixed(u % (60 * SECOND as u64), 9);
        let minutes = (whole_seconds / 60) % 60;
        let hours = whole_seconds / 3600;
        if hours > 0 {
            format!("{hours}h{minutes}m{seconds}s")
        } else if minutes > 0 {
            format!("{minutes}m{seconds}s")
        } else {
            format!("{seconds}s")
        }
    };
    format!("{sign}{body}")
}

/// A clock reading and a zone, passed to renderers so their output is deterministic
/// in tests.
#[derive(Debug, Clone)]
pub struct TimeContext {
    /// "Now" in Unix nanoseconds, for relative times.
    pub now: i64,
    /// The zone absolute times are shown in.
    pub tz: TimeZone,
}

impl TimeContext {
    /// The real clock in the system's zone.
    pub fn system() -> TimeContext {
        TimeContext {
            now: now_nanos(),
            tz: TimeZone::system(),
        }
    }

    /// A fixed clock in UTC (tests).
    pub fn fixed_utc(now: i64) -> TimeContext {
        TimeContext {
            now,
            tz: TimeZone::UTC,
        }
    }

    /// [`format_time_in`] in this context's zone.
    pub fn format(&self, unix_nanos: i64) -> String {
        format_time_in(unix_nanos, &self.tz)
    }

    /// [`pretty_time_diff`] against this context's now.
    pub fn pretty(&self, unix_nanos: i64) -> String {
        pretty_time_diff(unix_nanos, self.now)
    }

    /// `formatTime` of an RFC 3339 string; empty when zero or unparsable.
    pub fn format_text(&self, text: &str) -> String {
        parse_rfc3339(text)
            .map(|n| self.format(n))
            .unwrap_or_default()
    }

    /// Nomad's `formatTaskTimes`: `N/A` for the zero time.
    pub fn task_time(&self, text: &str) -> String {
        match parse_rfc3339(text) {
            Some(n) => self.format(n),
            None => "N/A".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = SECOND;

    #[test]
    fn pretty_time_diff_table() {
        let base = 1_700_000_000 * S;
        let cases: &[(&str, i64, &str)] = &[
            ("zero_difference", 0, "0s ago"),
            ("seconds_only", 6 * S, "6s ago"),
            ("minutes_and_seconds", 42 * 60 * S + 38 * S, "42m38s ago"),
            ("exact_minute_keeps_zero_seconds", 60 * S, "1m0s ago"),
            (
                "hours_drop_seconds",
                (2 * 3600 + 55 * 60 + 12) * S,
                "2h55m ago",
            ),
            ("days_and_hours", (3 * 86400 + 4 * 3600 + 5) * S, "3d4h ago"),
            ("months", (45 * 86400) * S, "1mo15d ago"),
            ("years", (400 * 86400) * S, "1y1mo ago"),
            ("rounds_half_second_up", 1_500_000_000, "2s ago"),
            ("rounds_below_half_down", 1_499_999_999, "1s ago"),
            ("future", -(90 * S), "1m30s from now"),
        ];
        for (name, ago, want) in cases {
            assert_eq!(pretty_time_diff(base, base + ago), *want, "case {name}");
        }
    }

    #[test]
    fn go_duration_table() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5\u{b5}s"),
            (750_000_000, "750ms"),
            (1_250_000, "1.25ms"),
            (10 * S, "10s"),
            (10 * S + 500_000_000, "10.5s"),
            (60 * S, "1m0s"),
            (90 * S, "1m30s"),
            (2 * 3600 * S, "2h0m0s"),
            (26 * 3600 * S + 61 * S, "26h1m1s"),
            (-(5 * S), "-5s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(go_duration(*nanos), *want, "nanos {nanos}");
        }
    }

    #[test]
    fn pretty_time_diff_zero_time_is_empty() {
        assert_eq!(pretty_time_diff(0, 5 * S), "");
    }

    #[test]
    fn format_time_table() {
        let tokyo = TimeZone::fixed(jiff::tz::offset(9));
        let minus = TimeZone::fixed(jiff::tz::Offset::from_seconds(-(3 * 3600 + 30 * 60)).unwrap());
        let t = 1_795_608_000 * S + 123_456_789; // 2026-11-25T12:00:00Z
        let cases: &[(&str, i64, &TimeZone, &str)] = &[
            ("utc_is_z", t, &TimeZone::UTC, "2026-11-25T12:00:00Z"),
            ("positive_offset", t, &tokyo, "2026-11-25T21:00:00+09:00"),
            ("negative_half_hour", t, &minus, "2026-11-25T08:30:00-03:30"),
            ("zero_is_empty", 0, &TimeZone::UTC, ""),
            ("first_second_is_empty", S / 2, &TimeZone::UTC, ""),
        ];
        for (name, nanos, tz, want) in cases {
            assert_eq!(format_time_in(*nanos, tz), *want, "case {name}");
        }
    }

    #[test]
    fn parse_rfc3339_table() {
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339(""), None);
        assert_eq!(parse_rfc3339("garbage"), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01Z"), Some(S));
        assert_eq!(
            parse_rfc3339("2026-11-25T21:00:00.5+09:00"),
            Some(1_795_608_000 * S + 500_000_000)
        );
        assert_eq!(
            TimeContext::fixed_utc(0).task_time("0001-01-01T00:00:00Z"),
            "N/A"
        );
        assert_eq!(
            TimeContext::fixed_utc(0).task_time("2026-11-25T21:00:00+09:00"),
            "2026-11-25T12:00:00Z"
        );
    }
}
