//! `GET /v1/client/allocation/:id/stats`: an allocation's live resource usage (Nomad's
//! `AllocResourceUsage`). Every part is optional, as in Nomad, where each is a pointer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Nomad's `MemoryStats` (bytes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MemoryStats {
    /// Resident set size.
    #[serde(rename = "RSS")]
    pub rss: u64,
    /// Page cache.
    pub cache: u64,
    /// Swap in use.
    pub swap: u64,
    /// Memory-mapped files.
    pub mapped_file: u64,
    /// Memory charged to the cgroup.
    pub usage: u64,
    /// Highest `usage` seen.
    pub max_usage: u64,
    /// Kernel memory charged to the cgroup.
    pub kernel_usage: u64,
    /// Highest `kernel_usage` seen.
    pub kernel_max_usage: u64,
    /// Which of the above were measured (`RSS`, `Cache`, `Swap`, `Usage`, `Max Usage`,
    /// `Kernel Usage`, `Kernel Max Usage`).
    pub measured: Vec<String>,
}

/// Nomad's `CpuStats`: modes and `Percent` in percent of one core, `TotalTicks` in MHz.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CpuStats {
    /// Kernel time, percent.
    pub system_mode: f64,
    /// User time, percent.
    pub user_mode: f64,
    /// MHz in use.
    pub total_ticks: f64,
    /// Periods the cgroup was throttled.
    pub throttled_periods: u64,
    /// Nanoseconds the cgroup was throttled.
    pub throttled_time: u64,
    /// Total, percent.
    pub percent: f64,
    /// Which of the above were measured (`System Mode`, `User Mode`, `Percent`,
    /// `Throttled Periods`, `Throttled Time`).
    pub measured: Vec<String>,
}

/// Nomad's `ResourceUsage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourceUsage {
    /// Memory figures, when measured.
    pub memory_stats: Option<MemoryStats>,
    /// CPU figures, when measured.
    pub cpu_stats: Option<CpuStats>,
    /// Device figures (none: Caravan has no device plugins).
    #[serde(default, deserialize_with = "caravan_structs::json::without_nulls")]
    pub device_stats: Vec<serde_json::Value>,
}

/// Nomad's `TaskResourceUsage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskResourceUsage {
    /// The task's usage.
    pub resource_usage: Option<ResourceUsage>,
    /// When it was measured, Unix nanoseconds.
    pub timestamp: i64,
    /// Per-process usage, when the driver reports it.
    #[serde(default, deserialize_with = "caravan_structs::json::without_nulls")]
    pub pids: Option<BTreeMap<String, serde_json::Value>>,
}

/// Nomad's `AllocResourceUsage`: the running tasks' usage and their sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocResourceUsage {
    /// The sum over the tasks.
    pub resource_usage: Option<ResourceUsage>,
    /// Each running task's usage, by task name.
    pub tasks: BTreeMap<String, TaskResourceUsage>,
    /// When it was measured, Unix nanoseconds.
    pub timestamp: i64,
}

impl AllocResourceUsage {
    /// The usage of one task, when it was measured.
    pub fn task(&self, name: &str) -> Option<&ResourceUsage> {
        self.tasks.get(name)?.resource_usage.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_agent_answer() {
        let body = br#"{
            "ResourceUsage": {"MemoryStats": {"RSS": 10, "Measured": ["RSS"]}, "CpuStats": {"TotalTicks": 1.5, "Measured": null}, "DeviceStats": null},
            "Tasks": {"web": {"ResourceUsage": {"MemoryStats": {"RSS": 10, "Measured": ["RSS"]}, "CpuStats": {"TotalTicks": 1.5}}, "Timestamp": 5, "Pids": null}},
            "Timestamp": 6
        }"#;
        let parsed: AllocResourceUsage = caravan_structs::json::from_slice_lenient(body).unwrap();
        assert_eq!(parsed.timestamp, 6);
        let web = parsed.task("web").unwrap();
        assert_eq!(web.memory_stats.as_ref().unwrap().rss, 10);
        assert_eq!(web.cpu_stats.as_ref().unwrap().total_ticks, 1.5);
        assert!(parsed.task("db").is_none());
    }
}
