//! `GET /v1/client/stats`: the client host's resource usage (Nomad's `HostStats`), which
//! `node status <id>` shows as "Host Resource Utilization" and `Uptime`.

use serde::{Deserialize, Serialize};

/// Nomad's `HostStats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostStatsResponse {
    pub memory: HostMemoryStats,
    #[serde(rename = "CPU")]
    pub cpu: Vec<HostCpuStats>,
    pub disk_stats: Vec<HostDiskStats>,
    /// The disk that holds the allocation directories.
    pub alloc_dir_stats: HostDiskStats,
    #[serde(default, deserialize_with = "caravan_structs::json::without_nulls")]
    pub device_stats: Vec<serde_json::Value>,
    /// Seconds since the host booted.
    pub uptime: u64,
    /// Unix nanoseconds of the sample.
    pub timestamp: i64,
    /// MHz in use over every core.
    #[serde(rename = "CPUTicksConsumed")]
    pub cpu_ticks_consumed: f64,
}

/// Nomad's `HostMemoryStats` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostMemoryStats {
    pub total: u64,
    pub available: u64,
    pub used: u64,
    pub free: u64,
}

/// Nomad's `HostCPUStats`: one core's shares, in percent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostCpuStats {
    #[serde(rename = "CPU")]
    pub cpu: String,
    pub user: f64,
    pub system: f64,
    pub idle: f64,
    pub total: f64,
}

/// Nomad's `HostDiskStats` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostDiskStats {
    pub device: String,
    pub mountpoint: String,
    pub size: u64,
    pub used: u64,
    pub available: u64,
    pub used_percent: f64,
    pub inodes_used_percent: f64,
}
