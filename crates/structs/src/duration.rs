//! Go-style durations (`time.ParseDuration` and `Duration.String`), as job files and agent
//! configs write them: `"5s"`, `"1m30s"`, `"300ms"`, `"24h"`.

const NANOSECOND: i64 = 1;
const MICROSECOND: i64 = 1_000;
const MILLISECOND: i64 = 1_000_000;
const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// Parses a Go duration string into nanoseconds.
///
/// Accepts what Go's `time.ParseDuration` accepts: an optional sign, then one or more
/// decimal numbers (fractions allowed) each followed by a unit `ns`, `us` (`µs`), `ms`, `s`,
/// `m` or `h`. `"0"` alone is zero.
///
/// ```
/// use caravan_structs::duration::parse_duration;
/// assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
/// assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
/// assert!(parse_duration("5").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid duration {s:?}: write it like \"30s\", \"1m30s\" or \"2h\"");
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let unit = match &rest[..unit_len] {
            "ns" => NANOSECOND,
            "us" | "µs" | "μs" => MICROSECOND,
            "ms" => MILLISECOND,
            "s" => SECOND,
            "m" => MINUTE,
            "h" => HOUR,
            "" => {
                return Err(format!(
                    "missing unit in duration {s:?}: write e.g. \"{s}s\""
                ));
            }
            other => {
                return Err(format!(
                    "unknown unit {other:?} in duration {s:?}: use ns, us, ms, s, m or h"
                ));
            }
        };
        rest = &rest[unit_len..];
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(unit as i128).ok_or_else(invalid)?;
        // Fractions: Go keeps nanosecond precision and truncates the rest.
        let mut scale = unit as i128;
        for digit in frac_part.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            value += (digit - b'0') as i128 * scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as i128 + 1 {
            return Err(format!("duration {s:?} is too long"));
        }
    }
    let signed = if negative { -total } else { total };
    i64::try_from(signed).map_err(|_| format!("duration {s:?} is too long"))
}

/// Formats nanoseconds the way Go's `Duration.String` does: `"5s"`, `"1m30s"`,
/// `"30m0s"`, `"24h0m0s"`, `"16.5s"`, `"300ms"`, `"0s"`.
///
/// ```
/// use caravan_structs::duration::format_duration;
/// assert_eq!(format_duration(30 * 60 * 1_000_000_000), "30m0s");
/// ```
pub fn format_duration(nanos: i64) -> String {
    let negative = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let sign = if negative { "-" } else { "" };
    if u < SECOND as u64 {
        let (unit, scale) = match u {
            0 => return "0s".to_string(),
            n if n < MICROSECOND as u64 => return format!("{sign}{n}ns"),
            n if n < MILLISECOND as u64 => ("µs", MICROSECOND as u64),
            _ => ("ms", MILLISECOND as u64),
        };
        return format!("{sign}{}{unit}", with_fraction(u, scale));
    }
    let seconds = with_fraction(u % (MINUTE as u64), SECOND as u64);
    u /= MINUTE as u64;
    if u == 0 {
        return format!("{sign}{seconds}s");
    }
    let minutes = u % 60;
    let hours = u / 60;
    if hours == 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    }
}

/// `value / scale` with the remainder as a decimal fraction, trailing zeros dropped.
fn with_fraction(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let rows: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5 * SECOND),
            ("1m30s", 90 * SECOND),
            ("1h", HOUR),
            ("300ms", 300 * MILLISECOND),
            ("1.5s", 1_500 * MILLISECOND),
            (".5s", 500 * MILLISECOND),
            ("2h45m", 2 * HOUR + 45 * MINUTE),
            ("10us", 10 * MICROSECOND),
            ("10µs", 10 * MICROSECOND),
            ("7ns", 7),
            ("-1.5h", -(HOUR + 30 * MINUTE)),
            ("+3s", 3 * SECOND),
            ("1.000000001s", SECOND + 1),
        ];
        for (input, want) in rows {
            assert_eq!(parse_duration(input), Ok(*want), "{input}");
        }
    }

    #[test]
    fn parse_rejects() {
        for input in [
            "",
            "5",
            "s",
            "1x",
            "1.s.",
            "-",
            "1h-1m",
            ".s",
            "99999999999999h",
            "5 s",
        ] {
            assert!(parse_duration(input).is_err(), "{input:?} should fail");
        }
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
    }

    #[test]
    fn format_table() {
        let rows: &[(i64, &str)] = &[
            (0, "0s"),
            (5 * SECOND, "5s"),
            (90 * SECOND, "1m30s"),
            (30 * MINUTE, "30m0s"),
            (24 * HOUR, "24h0m0s"),
            (16_500 * MILLISECOND, "16.5s"),
            (300 * MILLISECOND, "300ms"),
            (1_500 * MICROSECOND, "1.5ms"),
            (42, "42ns"),
            (-5 * SECOND, "-5s"),
            (HOUR + 30 * SECOND, "1h0m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, want) in rows {
            assert_eq!(format_duration(*nanos), *want, "{nanos}");
        }
    }

    #[test]
    fn round_trip() {
        for nanos in [1, 999, 1_000_001, 61 * SECOND + 5, 7 * HOUR + 1] {
            assert_eq!(parse_duration(&format_duration(nanos)), Ok(nanos));
        }
    }
}
