//! `service { check { } }` (`api.Service`, `api.ServiceCheck`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SECOND_NS;

/// `service.provider = "nomad"`: Nomad's built-in service catalogue.
pub const SERVICE_PROVIDER_NOMAD: &str = "nomad";
/// `service.provider = "consul"`: Nomad's default provider.
pub const SERVICE_PROVIDER_CONSUL: &str = "consul";

/// A service a group or task registers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Service {
    pub name: String,
    pub tags: Vec<String>,
    pub canary_tags: Vec<String>,
    pub enable_tag_override: bool,
    /// A port label of the group's network, or a number.
    pub port_label: String,
    /// `auto` (default), `host`, `driver` or `alloc`.
    pub address_mode: String,
    pub address: String,
    pub checks: Vec<ServiceCheck>,
    pub check_restart: Option<CheckRestart>,
    pub meta: Option<BTreeMap<String, String>>,
    pub canary_meta: Option<BTreeMap<String, String>>,
    pub tagged_addresses: Option<BTreeMap<String, String>>,
    pub task_name: String,
    /// `require_healthy` (default), `ignore_warnings` or `ignore`.
    pub on_update: String,
    /// `consul` (Nomad's default) or `nomad`.
    pub provider: String,
    pub cluster: String,
}

impl Service {
    /// Nomad's `Service.Canonicalize`: the name defaults to `<job>-<group>[-<task>]`, the
    /// address mode to `auto`, `on_update` to `require_healthy`, the provider to `consul`;
    /// the service's `check_restart` is merged into each check's.
    pub fn canonicalize(&mut self, job: &str, group: &str, task: Option<&str>) {
        if self.name.is_empty() {
            self.name = match task {
                Some(task) => format!("{job}-{group}-{task}"),
                None => format!("{job}-{group}"),
            };
        }
        if self.address_mode.is_empty() {
            self.address_mode = "auto".to_string();
        }
        if self.on_update.is_empty() {
            self.on_update = "require_healthy".to_string();
        }
        if self.provider.is_empty() {
            self.provider = SERVICE_PROVIDER_CONSUL.to_string();
        }
        if self.cluster.is_empty() {
            self.cluster = "default".to_string();
        }
        for map in [
            &mut self.meta,
            &mut self.canary_meta,
            &mut self.tagged_addresses,
        ] {
            if map.as_ref().is_some_and(BTreeMap::is_empty) {
                *map = None;
            }
        }
        for check in &mut self.checks {
            check.check_restart = CheckRestart::merged(&self.check_restart, &check.check_restart);
            if let Some(restart) = &mut check.check_restart {
                restart.grace.get_or_insert(SECOND_NS);
            }
            check.success_before_passing = check.success_before_passing.max(0);
            check.failures_before_critical = check.failures_before_critical.max(0);
            if check.on_update.is_empty() {
                check.on_update = self.on_update.clone();
            }
        }
    }
}

/// `check { type interval timeout path ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceCheck {
    pub name: String,
    /// `http`, `tcp`, `grpc` or `script`.
    pub r#type: String,
    pub command: String,
    pub args: Vec<String>,
    pub path: String,
    pub protocol: String,
    pub port_label: String,
    pub expose: bool,
    pub address_mode: String,
    pub advertise: String,
    /// Nanoseconds.
    pub interval: i64,
    /// Nanoseconds.
    pub timeout: i64,
    pub initial_status: String,
    pub notes: String,
    #[serde(rename = "TLSServerName")]
    pub tls_server_name: String,
    #[serde(rename = "TLSSkipVerify")]
    pub tls_skip_verify: bool,
    pub header: BTreeMap<String, Vec<String>>,
    pub method: String,
    pub check_restart: Option<CheckRestart>,
    #[serde(rename = "GRPCService")]
    pub grpc_service: String,
    #[serde(rename = "GRPCUseTLS")]
    pub grpc_use_tls: bool,
    pub task_name: String,
    pub success_before_passing: i64,
    pub failures_before_critical: i64,
    pub failures_before_warning: i64,
    pub body: String,
    pub on_update: String,
}

/// `check_restart { limit grace ignore_warnings }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckRestart {
    pub limit: i64,
    /// Nanoseconds; 1 s by default.
    pub grace: Option<i64>,
    pub ignore_warnings: bool,
}

impl CheckRestart {
    /// Nomad's `CheckRestart.Merge`: the check's own settings win over the service's.
    fn merged(
        service: &Option<CheckRestart>,
        check: &Option<CheckRestart>,
    ) -> Option<CheckRestart> {
        match (service, check) {
            (None, None) => None,
            (Some(s), None) => Some(s.clone()),
            (None, Some(c)) => Some(c.clone()),
            (Some(s), Some(c)) => Some(CheckRestart {
                limit: if c.limit > 0 { c.limit } else { s.limit },
                grace: c.grace.or(s.grace),
                ignore_warnings: c.ignore_warnings || s.ignore_warnings,
            }),
        }
    }
}
