//! Cron schedules of periodic jobs, as Nomad reads them (gorhill/cronexpr).
//!
//! A spec has 5 fields (`minute hour day-of-month month day-of-week`), 6 (plus `year`) or
//! 7 (`second` first, then the 6), or is a shorthand: `@yearly`/`@annually`, `@monthly`,
//! `@weekly`, `@daily`/`@midnight`, `@hourly`. Each field is a list (`1,15`) of `*`, a
//! value, a range (`9-17`), each optionally with a step (`*/15`, `0-30/10`, `5/20` = from 5
//! to the maximum). Months and days of week take names (`JAN`, `January`, `MON`, `Monday`,
//! any case); day of week 7 is Sunday like 0; `?` is `*` in the day fields. Day of month
//! also takes `L` (last day), `LW` (last weekday) and `15W` (the weekday nearest the 15th,
//! within the month); day of week takes `5L` (last Friday) and `1#2` (second Monday).
//! When both day fields are restricted, a day matching either runs (crontab's rule).
//! Years run from 1970 to 2099.
//!
//! Times are computed in the job's `time_zone`: an IANA name from the system's zoneinfo
//! (`America/New_York`, `Etc/GMT+5`), `UTC`, `Local`, or a fixed offset (`+05:30`,
//! `UTC-3`). A time that does not exist in the zone (a spring-forward gap) runs at the
//! matching instant after the gap, as Go's `time.Date` normalizes it.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

const MONTH_NAMES: [&str; 12] = [
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
];
const DAY_NAMES: [&str; 7] = [
    "SUNDAY",
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
];
const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2099;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    /// Bit n = second n.
    seconds: u64,
    minutes: u64,
    hours: u64,
    /// Bit n = day n of the month (1..=31).
    days_of_month: u64,
    last_day_of_month: bool,
    last_weekday_of_month: bool,
    /// `nW`: the weekday nearest day n.
    nearest_weekdays: Vec<u32>,
    days_of_month_restricted: bool,
    /// Bit n = weekday n (0 = Sunday).
    days_of_week: u64,
    /// `nL`: the last weekday n of the month.
    last_days_of_week: Vec<u32>,
    /// `d#k`: the k-th weekday d of the month.
    nth_days_of_week: Vec<(u32, u32)>,
    days_of_week_restricted: bool,
    /// Bit n = month n (1..=12).
    months: u64,
    /// Years allowed; empty = every year.
    years: Vec<i32>,
}

/// Which field a piece of a spec belongs to, with its range and names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    Year,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day of month",
            Field::Month => "month",
            Field::DayOfWeek => "day of week",
            Field::Year => "year",
        }
    }

    fn range(self) -> (i64, i64) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
            Field::Year => (i64::from(MIN_YEAR), i64::from(MAX_YEAR)),
        }
    }

    fn value(self, text: &str) -> Result<i64, String> {
        let upper = text.to_ascii_uppercase();
        let named = |names: &[&str]| {
            names
                .iter()
                .position(|n| (upper.len() == 3 && n.starts_with(&upper)) || *n == upper)
                .map(|i| i as i64)
        };
        let number = match self {
            Field::Month => named(&MONTH_NAMES).map(|i| i + 1),
            Field::DayOfWeek => named(&DAY_NAMES),
            _ => None,
        };
        let n = match number {
            Some(n) => n,
            None => text.parse::<i64>().map_err(|_| {
                let hint = match self {
                    Field::Month => " or a month name like JAN",
                    Field::DayOfWeek => " or a day name like MON",
                    _ => "",
                };
                format!("{text:?} is not a number{hint}")
            })?,
        };
        let (min, max) = self.range();
        if !(min..=max).contains(&n) {
            return Err(format!("{n} is out of range {min}-{max}"));
        }
        Ok(n)
    }
}

impl CronSchedule {
    /// Parses a spec; the error names the field and what is wrong with it.
    ///
    /// ```
    /// use caravan_structs::cron::CronSchedule;
    /// assert!(CronSchedule::parse("*/15 9-17 * * MON-FRI").is_ok());
    /// assert!(CronSchedule::parse("61 * * * *").is_err());
    /// ```
    pub fn parse(spec: &str) -> Result<CronSchedule, String> {
        let spec = spec.trim();
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 0 1 1 * *",
            "@monthly" => "0 0 0 1 * * *",
            "@weekly" => "0 0 0 * * 0 *",
            "@daily" | "@midnight" => "0 0 0 * * * *",
            "@hourly" => "0 0 * * * * *",
            s if s.starts_with('@') => {
                return Err(format!(
                    "unknown cron shorthand {s:?}; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
                ));
            }
            s => s,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 | 6 => ("0", &fields[..]),
            7 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "a cron expression has 5, 6 or 7 fields, got {n} in {spec:?}"
                ));
            }
        };
        let year = rest.get(5).copied().unwrap_or("*");
        let mut schedule = CronSchedule {
            seconds: bits(second, Field::Second)?,
            minutes: bits(rest[0], Field::Minute)?,
            hours: bits(rest[1], Field::Hour)?,
            days_of_month: 0,
            last_day_of_month: false,
            last_weekday_of_month: false,
            nearest_weekdays: Vec::new(),
            days_of_month_restricted: !matches!(rest[2], "*" | "?"),
            days_of_week: 0,
            last_days_of_week: Vec::new(),
            nth_days_of_week: Vec::new(),
            days_of_week_restricted: !matches!(rest[4], "*" | "?"),
            months: bits(rest[3], Field::Month)?,
            years: Vec::new(),
        };
        schedule.parse_days_of_month(rest[2])?;
        schedule.parse_days_of_week(rest[4])?;
        if year != "*" && year != "?" {
            let years = bits_wide(year, Field::Year)?;
            schedule.years = years.into_iter().map(|y| y as i32).collect();
        }
        Ok(schedule)
    }

    fn parse_days_of_month(&mut self, field: &str) -> Result<(), String> {
        let at = |e: String| format!("day of month field {field:?}: {e}");
        let mut plain = Vec::new();
        for part in field.split(',') {
            match part.to_ascii_uppercase().as_str() {
                "L" => self.last_day_of_month = true,
                "LW" => self.last_weekday_of_month = true,
                upper if upper.len() > 1 && upper.ends_with('W') => {
                    let day = Field::DayOfMonth
                        .value(&upper[..upper.len() - 1])
                        .map_err(at)?;
                    self.nearest_weekdays.push(day as u32);
                }
                _ => plain.push(part),
            }
        }
        if !plain.is_empty() {
            self.days_of_month = bits(&plain.join(","), Field::DayOfMonth)?;
        }
        Ok(())
    }

    fn parse_days_of_week(&mut self, field: &str) -> Result<(), String> {
        let at = |e: String| format!("day of week field {field:?}: {e}");
        let mut plain = Vec::new();
        for part in field.split(',') {
            if let Some((day, nth)) = part.split_once('#') {
                let day = Field::DayOfWeek.value(day).map_err(at)? % 7;
                let nth = match nth.parse::<u32>() {
                    Ok(n @ 1..=5) => n,
                    _ => return Err(at(format!("#{nth} must be 1 to 5"))),
                };
                self.nth_days_of_week.push((day as u32, nth));
            } else if part.len() > 1 && part.to_ascii_uppercase().ends_with('L') {
                let day = Field::DayOfWeek
                    .value(&part[..part.len() - 1])
                    .map_err(at)?
                    % 7;
                self.last_days_of_week.push(day as u32);
            } else {
                plain.push(part);
            }
        }
        if !plain.is_empty() {
            let days = bits(&plain.join(","), Field::DayOfWeek)?;
            // 7 is Sunday too.
            self.days_of_week = (days | (days >> 7)) & 0x7f;
        }
        Ok(())
    }

    fn day_matches(&self, year: i32, month: u32, day: u32) -> bool {
        let last = days_in_month(year, month);
        let weekday = weekday(year, month, day);
        let by_month_day = || {
            self.days_of_month & (1 << day) != 0
                || (self.last_day_of_month && day == last)
                || (self.last_weekday_of_month && day == last_weekday(year, month))
                || self
                    .nearest_weekdays
                    .iter()
                    .any(|n| nearest_weekday(year, month, (*n).min(last)) == day)
        };
        let by_week_day = || {
            self.days_of_week & (1 << weekday) != 0
                || self
                    .last_days_of_week
                    .iter()
                    .any(|d| *d == weekday && day + 7 > last)
                || self
                    .nth_days_of_week
                    .iter()
                    .any(|(d, nth)| *d == weekday && (day - 1) / 7 + 1 == *nth)
        };
        // cronexpr: day of month counts unless only day of week is restricted; day of week
        // counts when restricted; either may match.
        ((self.days_of_month_restricted || !self.days_of_week_restricted) && by_month_day())
            || (self.days_of_week_restricted && by_week_day())
    }

    fn year_allowed(&self, year: i32) -> bool {
        self.years.is_empty() || self.years.contains(&year)
    }

    /// The first wall-clock time strictly after `after` that matches, or `None` when
    /// nothing does before the end of 2099.
    fn next_civil(&self, after: Civil) -> Option<Civil> {
        let mut t = after.plus_second();
        while t.year <= MAX_YEAR {
            if !self.year_allowed(t.year) {
                t = Civil::start_of(t.year + 1, 1, 1);
                continue;
            }
            if self.months & (1 << t.month) == 0 {
                t = t.next_month();
                continue;
            }
            if !self.day_matches(t.year, t.month, t.day) {
                t = t.next_day();
                continue;
            }
            let Some(hour) = first_at_or_after(self.hours, t.hour, 23) else {
                t = t.next_day();
                continue;
            };
            if hour > t.hour {
                t = Civil {
                    hour,
                    minute: 0,
                    second: 0,
                    ..t
                };
            }
            let Some(minute) = first_at_or_after(self.minutes, t.minute, 59) else {
                t = t.next_hour();
                continue;
            };
            if minute > t.minute {
                t = Civil {
                    minute,
                    second: 0,
                    ..t
                };
            }
            let Some(second) = first_at_or_after(self.seconds, t.second, 59) else {
                t = t.next_minute();
                continue;
            };
            return Some(Civil { second, ..t });
        }
        None
    }

    /// The first launch strictly after `after` (Unix seconds), in `tz`.
    pub fn next_after(&self, after: i64, tz: &TimeZone) -> Option<i64> {
        let mut from = after;
        // A wall-clock time repeated by a fall-back transition can map to an instant at or
        // before `after`; look again past it.
        for _ in 0..4 {
            let civil = Civil::from_datetime(tz.to_datetime(Timestamp::from_second(from).ok()?));
            let next = self.next_civil(civil)?;
            let instant = tz.to_timestamp(next.to_datetime()?).ok()?.as_second();
            if instant > after {
                return Some(instant);
            }
            from = instant.max(from) + 1;
        }
        None
    }
}

/// The first launch of any of several specs (`crons = [...]`).
pub fn next_launch(schedules: &[CronSchedule], after: i64, tz: &TimeZone) -> Option<i64> {
    schedules
        .iter()
        .filter_map(|s| s.next_after(after, tz))
        .min()
}

/// Resolves a periodic block's `time_zone`: an IANA name, `UTC`, `Local`, or a fixed
/// offset (`+05:30`, `-0800`, `UTC+2`).
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    match name {
        "" | "UTC" | "utc" | "Z" | "GMT" => return Ok(TimeZone::UTC),
        "Local" => return Ok(TimeZone::system()),
        _ => {}
    }
    let offset = name
        .strip_prefix("UTC")
        .or_else(|| name.strip_prefix("GMT"))
        .unwrap_or(name);
    if offset.starts_with('+') || offset.starts_with('-') {
        return fixed_offset(offset)
            .map(|seconds| {
                Offset::from_seconds(seconds)
                    .map(TimeZone::fixed)
                    .unwrap_or(TimeZone::UTC)
            })
            .ok_or_else(|| {
                format!("time zone {name:?}: a fixed offset is written +HH, +HH:MM or +HHMM (-12 to +14)")
            });
    }
    TimeZone::get(name).map_err(|e| {
        format!("time zone {name:?} is not known ({e}); use an IANA name like \"Europe/Berlin\", \"UTC\" or a fixed offset like \"+02:00\"")
    })
}

/// `+HH`, `+HH:MM`, `+HHMM` in seconds east of UTC.
fn fixed_offset(text: &str) -> Option<i32> {
    let (sign, digits) = match text.split_at(1) {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let digits = digits.replace(':', "");
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        3 | 4 => {
            let (h, m) = digits.split_at(digits.len() - 2);
            (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
        }
        _ => return None,
    };
    if hours > 14 || minutes > 59 || (sign < 0 && hours > 12) {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Parses one field into a bitmask of allowed values (fields whose values fit in 64 bits).
fn bits(field: &str, kind: Field) -> Result<u64, String> {
    Ok(bits_wide(field, kind)?
        .into_iter()
        .fold(0u64, |mask, v| mask | (1 << v)))
}

/// Parses one field into its allowed values, ascending.
fn bits_wide(field: &str, kind: Field) -> Result<Vec<i64>, String> {
    let at = |e: String| format!("{} field {field:?}: {e}", kind.name());
    let (min, max) = kind.range();
    let mut values = std::collections::BTreeSet::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => match step.parse::<i64>() {
                Ok(n) if n > 0 => (range, Some(n)),
                _ => return Err(at(format!("step {step:?} must be a positive number"))),
            },
            None => (part, None),
        };
        let (from, to) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((from, to)) = range.split_once('-') {
            let (from, to) = (kind.value(from).map_err(at)?, kind.value(to).map_err(at)?);
            if from > to {
                return Err(at(format!(
                    "range {range:?} runs backwards; write it from the lower to the higher value"
                )));
            }
            (from, to)
        } else {
            let value = kind.value(range).map_err(at)?;
            // `5/20`: from 5 to the maximum, every 20.
            (value, if step.is_some() { max } else { value })
        };
        let step = step.unwrap_or(1) as usize;
        values.extend((from..=to).step_by(step));
    }
    Ok(values.into_iter().collect())
}

fn first_at_or_after(mask: u64, from: u32, max: u32) -> Option<u32> {
    (from..=max).find(|v| mask & (1 << v) != 0)
}

/// A wall-clock time, second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    fn start_of(year: i32, month: u32, day: u32) -> Civil {
        Civil {
            year,
            month,
            day,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }

    fn from_datetime(dt: DateTime) -> Civil {
        Civil {
            year: i32::from(dt.year()),
            month: dt.month() as u32,
            day: dt.day() as u32,
            hour: dt.hour() as u32,
            minute: dt.minute() as u32,
            second: dt.second() as u32,
        }
    }

    fn to_datetime(self) -> Option<DateTime> {
        DateTime::new(
            i16::try_from(self.year).ok()?,
            self.month as i8,
            self.day as i8,
            self.hour as i8,
            self.minute as i8,
            self.second as i8,
            0,
        )
        .ok()
    }

    fn next_month(self) -> Civil {
        if self.month == 12 {
            Civil::start_of(self.year + 1, 1, 1)
        } else {
            Civil::start_of(self.year, self.month + 1, 1)
        }
    }

    fn next_day(self) -> Civil {
        if self.day >= days_in_month(self.year, self.month) {
            self.next_month()
        } else {
            Civil::start_of(self.year, self.month, self.day + 1)
        }
    }

    fn next_hour(self) -> Civil {
        if self.hour == 23 {
            self.next_day()
        } else {
            Civil {
                hour: self.hour + 1,
                minute: 0,
                second: 0,
                ..self
            }
        }
    }

    fn next_minute(self) -> Civil {
        if self.minute == 59 {
            self.next_hour()
        } else {
            Civil {
                minute: self.minute + 1,
                second: 0,
                ..self
            }
        }
    }

    fn plus_second(self) -> Civil {
        if self.second == 59 {
            self.next_minute()
        } else {
            Civil {
                second: self.second + 1,
                ..self
            }
        }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 0 = Sunday (Howard Hinnant's `days_from_civil`, 1970-01-01 was a Thursday).
fn weekday(year: i32, month: u32, day: u32) -> u32 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days + 4).rem_euclid(7) as u32
}

fn last_weekday(year: i32, month: u32) -> u32 {
    let last = days_in_month(year, month);
    match weekday(year, month, last) {
        0 => last - 2,
        6 => last - 1,
        _ => last,
    }
}

/// The Monday-to-Friday day nearest `day`, without leaving the month (Quartz's `W`).
fn nearest_weekday(year: i32, month: u32, day: u32) -> u32 {
    let last = days_in_month(year, month);
    match weekday(year, month, day) {
        6 if day == 1 => 3,
        6 => day - 1,
        0 if day == last => day - 2,
        0 => day + 1,
        _ => day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a UTC wall-clock time.
    fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8) -> i64 {
        TimeZone::UTC
            .to_timestamp(DateTime::new(y, mo, d, h, mi, s, 0).unwrap())
            .unwrap()
            .as_second()
    }

    fn show(seconds: i64, tz: &TimeZone) -> String {
        let dt = tz.to_datetime(Timestamp::from_second(seconds).unwrap());
        dt.strftime("%Y-%m-%d %H:%M:%S %a").to_string()
    }

    // 2026-03-04 10:17:30 UTC is a Wednesday.
    const AFTER: (i16, i8, i8, i8, i8, i8) = (2026, 3, 4, 10, 17, 30);

    #[test]
    fn next_launch_table() {
        let after = utc(AFTER.0, AFTER.1, AFTER.2, AFTER.3, AFTER.4, AFTER.5);
        for (spec, want) in [
            ("* * * * *", "2026-03-04 10:18:00 Wed"),
            ("*/15 * * * *", "2026-03-04 10:30:00 Wed"),
            ("0,45 * * * *", "2026-03-04 10:45:00 Wed"),
            ("17 * * * *", "2026-03-04 11:17:00 Wed"),
            ("0 9-17 * * *", "2026-03-04 11:00:00 Wed"),
            ("0-30/10 10 * * *", "2026-03-04 10:20:00 Wed"),
            ("5/20 10 * * *", "2026-03-04 10:25:00 Wed"),
            ("0 9 * * MON-FRI", "2026-03-05 09:00:00 Thu"),
            ("0 9 * * mon,fri", "2026-03-06 09:00:00 Fri"),
            ("0 9 * * 7", "2026-03-08 09:00:00 Sun"),
            ("0 9 * * Sunday", "2026-03-08 09:00:00 Sun"),
            ("0 0 1 JAN,JUL *", "2026-07-01 00:00:00 Wed"),
            ("0 0 29 2 *", "2028-02-29 00:00:00 Tue"),
            ("0 0 L * *", "2026-03-31 00:00:00 Tue"),
            ("0 0 LW 5 *", "2026-05-29 00:00:00 Fri"),
            ("0 0 15W * *", "2026-03-16 00:00:00 Mon"),
            ("0 0 1W 8 *", "2026-08-03 00:00:00 Mon"),
            ("0 0 * * 5L", "2026-03-27 00:00:00 Fri"),
            ("0 0 * * 1#2", "2026-03-09 00:00:00 Mon"),
            // Both day fields restricted: either matches (the 13th, or any Friday).
            ("0 0 13 * FRI", "2026-03-06 00:00:00 Fri"),
            ("0 0 * * ?", "2026-03-05 00:00:00 Thu"),
            ("0 0 0 1 1 * 2030", "2030-01-01 00:00:00 Tue"),
            ("0 0 1 1 * 2027-2030/2", "2027-01-01 00:00:00 Fri"),
            ("0 0 1 1 * 2028-2030/2", "2028-01-01 00:00:00 Sat"),
            ("45 17 10 * * * *", "2026-03-04 10:17:45 Wed"),
            ("@hourly", "2026-03-04 11:00:00 Wed"),
            ("@daily", "2026-03-05 00:00:00 Thu"),
            ("@midnight", "2026-03-05 00:00:00 Thu"),
            ("@weekly", "2026-03-08 00:00:00 Sun"),
            ("@monthly", "2026-04-01 00:00:00 Wed"),
            ("@yearly", "2027-01-01 00:00:00 Fri"),
            ("@annually", "2027-01-01 00:00:00 Fri"),
        ] {
            let schedule = CronSchedule::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            let next = schedule.next_after(after, &TimeZone::UTC);
            assert_eq!(
                next.map(|n| show(n, &TimeZone::UTC)).as_deref(),
                Some(want),
                "{spec}"
            );
        }
    }

    #[test]
    fn never_matching_specs_have_no_next_launch() {
        let after = utc(2026, 3, 4, 0, 0, 0);
        for spec in ["0 0 30 2 *", "0 0 1 1 * 2020"] {
            let schedule = CronSchedule::parse(spec).unwrap();
            assert_eq!(schedule.next_after(after, &TimeZone::UTC), None, "{spec}");
        }
    }

    #[test]
    fn bad_specs_name_the_field() {
        for (spec, want) in [
            ("", "5, 6 or 7 fields"),
            ("* * * *", "5, 6 or 7 fields"),
            ("60 * * * *", "minute field \"60\": 60 is out of range 0-59"),
            ("* 24 * * *", "hour field"),
            ("* * 0 * *", "day of month field"),
            ("* * * 13 *", "month field"),
            ("* * * * 8", "day of week field"),
            ("*/0 * * * *", "step \"0\" must be a positive number"),
            ("x * * * *", "\"x\" is not a number"),
            ("* * * FOO *", "or a month name like JAN"),
            ("0 17-9 * * *", "runs backwards"),
            ("* * * * 1#6", "#6 must be 1 to 5"),
            ("@every 5m", "unknown cron shorthand"),
            ("* * * * * * * *", "5, 6 or 7 fields"),
        ] {
            let error = CronSchedule::parse(spec).expect_err(spec);
            assert!(error.contains(want), "{spec:?}: {error}");
        }
    }

    #[test]
    fn time_zones_shift_the_wall_clock() {
        let after = utc(2026, 3, 4, 10, 17, 30);
        let daily = CronSchedule::parse("0 9 * * *").unwrap();
        for (zone, want_utc) in [
            ("UTC", "2026-03-05 09:00:00 Thu"),
            ("+05:30", "2026-03-05 03:30:00 Thu"),
            ("UTC-3", "2026-03-04 12:00:00 Wed"),
            ("-0800", "2026-03-04 17:00:00 Wed"),
        ] {
            let tz = time_zone(zone).unwrap();
            let next = daily.next_after(after, &tz).unwrap();
            assert_eq!(show(next, &TimeZone::UTC), want_utc, "{zone}");
        }
        for bad in ["+25:00", "Mars/Olympus_Mons", "+ab"] {
            assert!(time_zone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn iana_zones_follow_daylight_saving() {
        // Skipped where the system has no zoneinfo.
        let Ok(tz) = time_zone("America/New_York") else {
            return;
        };
        let daily = CronSchedule::parse("0 9 * * *").unwrap();
        // Before the 2026-03-08 spring-forward 9:00 is 14:00 UTC, after it 13:00 UTC.
        let before = daily.next_after(utc(2026, 3, 6, 15, 0, 0), &tz).unwrap();
        assert_eq!(show(before, &TimeZone::UTC), "2026-03-07 14:00:00 Sat");
        let after = daily.next_after(utc(2026, 3, 8, 0, 0, 0), &tz).unwrap();
        assert_eq!(show(after, &TimeZone::UTC), "2026-03-08 13:00:00 Sun");
        // 02:30 does not exist on 2026-03-08: it runs at 03:30 EDT.
        let gap = CronSchedule::parse("30 2 * * *").unwrap();
        let next = gap.next_after(utc(2026, 3, 8, 5, 0, 0), &tz).unwrap();
        assert_eq!(show(next, &tz), "2026-03-08 03:30:00 Sun");
    }

    #[test]
    fn several_specs_take_the_earliest() {
        let after = utc(2026, 3, 4, 10, 17, 30);
        let specs = [
            CronSchedule::parse("0 12 * * *").unwrap(),
            CronSchedule::parse("30 10 * * *").unwrap(),
        ];
        let next = next_launch(&specs, after, &TimeZone::UTC).unwrap();
        assert_eq!(show(next, &TimeZone::UTC), "2026-03-04 10:30:00 Wed");
    }
}
