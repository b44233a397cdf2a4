//! `periodic { }` and `parameterized { }`: jobs that launch child jobs on a schedule or on
//! `job dispatch`.

use serde::{Deserialize, Serialize};

/// `periodic.spec_type` of a cron schedule (the only user-visible type).
pub const PERIODIC_SPEC_CRON: &str = "cron";

/// `periodic { crons = [...] prohibit_overlap time_zone }` (`api.PeriodicConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PeriodicConfig {
    pub enabled: Option<bool>,
    /// The single cron expression (`cron = "..."`).
    pub spec: Option<String>,
    /// Several cron expressions (`crons = [...]`, Nomad 1.6).
    pub specs: Vec<String>,
    pub spec_type: Option<String>,
    pub prohibit_overlap: Option<bool>,
    pub time_zone: Option<String>,
}

impl PeriodicConfig {
    /// Nomad's `PeriodicConfig.Canonicalize`: enabled, cron, overlap allowed, UTC.
    pub fn canonicalize(&mut self) {
        self.enabled.get_or_insert(true);
        self.spec.get_or_insert_with(String::new);
        self.spec_type
            .get_or_insert_with(|| PERIODIC_SPEC_CRON.to_string());
        self.prohibit_overlap.get_or_insert(false);
        if self.time_zone.as_deref().unwrap_or("").is_empty() {
            self.time_zone = Some("UTC".to_string());
        }
    }

    /// Whether the job launches children on its schedule (`periodic` present and enabled).
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// `parameterized.payload` values.
pub const DISPATCH_PAYLOAD_VALUES: &[&str] = &["optional", "required", "forbidden"];

/// `parameterized { payload meta_required meta_optional }` (`api.ParameterizedJobConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ParameterizedJobConfig {
    /// `optional` (default), `required` or `forbidden`.
    pub payload: String,
    pub meta_required: Vec<String>,
    pub meta_optional: Vec<String>,
}

impl ParameterizedJobConfig {
    /// Nomad's `ParameterizedJobConfig.Canonicalize`: the payload is optional by default.
    pub fn canonicalize(&mut self) {
        if self.payload.is_empty() {
            self.payload = "optional".to_string();
        }
    }
}

/// Checks a cron expression as Nomad's `cronexpr.Parse` reads it: 5 fields (minute hour
/// day-of-month month day-of-week), 6 (plus year) or 7 (seconds first), or one of
/// `@yearly @annually @monthly @weekly @daily @midnight @hourly`.
///
/// ```
/// use caravan_structs::periodic::check_cron;
/// assert!(check_cron("*/15 * * * *").is_ok());
/// assert!(check_cron("@daily").is_ok());
/// assert!(check_cron("61 * * * *").is_err());
/// ```
pub fn check_cron(spec: &str) -> Result<(), String> {
    let spec = spec.trim();
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => Ok(()),
            _ => Err(format!(
                "unknown cron shorthand {spec:?}; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
            )),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    // (name, min, max, names allowed)
    const SECOND: (&str, i64, i64) = ("second", 0, 59);
    const MINUTE: (&str, i64, i64) = ("minute", 0, 59);
    const HOUR: (&str, i64, i64) = ("hour", 0, 23);
    const DOM: (&str, i64, i64) = ("day of month", 1, 31);
    const MONTH: (&str, i64, i64) = ("month", 1, 12);
    const DOW: (&str, i64, i64) = ("day of week", 0, 7);
    const YEAR: (&str, i64, i64) = ("year", 1970, 2099);
    let layout: &[(&str, i64, i64)] = match fields.len() {
        5 => &[MINUTE, HOUR, DOM, MONTH, DOW],
        6 => &[MINUTE, HOUR, DOM, MONTH, DOW, YEAR],
        7 => &[SECOND, MINUTE, HOUR, DOM, MONTH, DOW, YEAR],
        n => {
            return Err(format!(
                "a cron expression has 5, 6 or 7 fields, got {n} in {spec:?}"
            ));
        }
    };
    for (field, (name, min, max)) in fields.iter().zip(layout) {
        check_cron_field(field, name, *min, *max)
            .map_err(|e| format!("{name} field {field:?}: {e}"))?;
    }
    Ok(())
}

const MONTH_NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn check_cron_field(field: &str, name: &str, min: i64, max: i64) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<i64>() {
                Ok(n) if n > 0 => {}
                _ => return Err(format!("step {step:?} must be a positive number")),
            }
        }
        if range == "*" || range == "?" {
            continue;
        }
        // Day-of-month and day-of-week specials: `L`, `LW`, `15W`, `5L`, `1#3`.
        if name == "day of month" && (range == "L" || range == "LW") {
            continue;
        }
        let value = |text: &str| -> Result<i64, String> {
            let text = match name {
                "day of month" => text.strip_suffix('W').unwrap_or(text),
                "day of week" => text.strip_suffix('L').unwrap_or(text),
                _ => text,
            };
            let upper = text.to_ascii_uppercase();
            let named = match name {
                "month" => MONTH_NAMES
                    .iter()
                    .position(|n| *n == upper)
                    .map(|i| i as i64 + 1),
                "day of week" => DAY_NAMES.iter().position(|n| *n == upper).map(|i| i as i64),
                _ => None,
            };
            let n = match named {
                Some(n) => n,
                None => text
                    .parse::<i64>()
                    .map_err(|_| format!("{text:?} is not a number"))?,
            };
            if !(min..=max).contains(&n) {
                return Err(format!("{n} is out of range {min}-{max}"));
            }
            Ok(n)
        };
        let range = match (name, range.split_once('#')) {
            ("day of week", Some((day, nth))) => {
                match nth.parse::<i64>() {
                    Ok(1..=5) => {}
                    _ => return Err(format!("#{nth} must be 1 to 5")),
                }
                day
            }
            _ => range,
        };
        match range.split_once('-') {
            Some((from, to)) => {
                value(from)?;
                value(to)?;
            }
            None => {
                value(range)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_table() {
        for ok in [
            "* * * * *",
            "*/5 * * * *",
            "0 9-17 * * MON-FRI",
            "0 0 1 JAN,JUL *",
            "30 2 * * 0",
            "0 0 L * ?",
            "0 0 * * 5L",
            "0 0 * * 1#2",
            "0 30 2 * * * 2030",
            "0 0 * * * 2030",
            "@weekly",
        ] {
            assert_eq!(check_cron(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "x * * * *",
            "@every 5m",
            "* * * * * * * *",
        ] {
            assert!(check_cron(bad).is_err(), "{bad:?} should fail");
        }
    }
}
