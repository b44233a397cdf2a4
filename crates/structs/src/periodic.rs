//! `periodic { }` and `parameterized { }`: jobs that launch child jobs on a schedule or on
//! `job dispatch`.

use serde::{Deserialize, Serialize};

use crate::cron::CronSchedule;

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
/// `@yearly @annually @monthly @weekly @daily @midnight @hourly`. It is the launcher's own
/// parser ([`CronSchedule::parse`]), so what passes here runs.
///
/// ```
/// use caravan_structs::periodic::check_cron;
/// assert!(check_cron("*/15 * * * *").is_ok());
/// assert!(check_cron("@daily").is_ok());
/// assert!(check_cron("61 * * * *").is_err());
/// ```
pub fn check_cron(spec: &str) -> Result<(), String> {
    CronSchedule::parse(spec).map(|_| ())
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
