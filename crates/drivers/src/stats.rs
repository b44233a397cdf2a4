//! Resource usage of running tasks in Nomad's `AllocResourceUsage` shape: from the
//! task's cgroup (`exec`), or from `/proc` for the task's process group (`raw_exec`,
//! best effort: processes that left the group are not counted).
//!
//! CPU percentages need two samples: [`sample`] reads the counters, [`usage`] turns two
//! samples into Nomad's figures.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::cgroups::CgroupVersion;
use crate::executor::recorded_cgroup;
use crate::executor::{EXIT_FILE, TASK_FILE, TaskRecord, read_json, same_process_alive};
use crate::proc_stat::{all_processes, clock_ticks};

/// The usage types are the API's (`caravan-api-types`): the client's stats endpoint
/// answers them as they are.
pub use caravan_api_types::{
    AllocResourceUsage, CpuStats, MemoryStats, ResourceUsage, TaskResourceUsage,
};

/// One reading of a task's counters.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    at: Instant,
    cgroup: Option<CgroupVersion>,
    rss: u64,
    cache: u64,
    swap: u64,
    mapped_file: u64,
    usage: u64,
    max_usage: u64,
    user_ns: u64,
    system_ns: u64,
    total_ns: u64,
    throttled_periods: u64,
    throttled_ns: u64,
}

impl Sample {
    /// A reading taken now from a container engine's counters (`docker` stats).
    pub(crate) fn from_engine(
        cgroup: Option<CgroupVersion>,
        memory: (u64, u64, u64),
        cpu_ns: (u64, u64, u64),
        throttled: (u64, u64),
    ) -> Sample {
        let (rss, usage, max_usage) = memory;
        let (user_ns, system_ns, total_ns) = cpu_ns;
        Sample {
            at: Instant::now(),
            cgroup,
            rss,
            cache: 0,
            swap: 0,
            mapped_file: 0,
            usage,
            max_usage,
            user_ns,
            system_ns,
            total_ns,
            throttled_periods: throttled.0,
            throttled_ns: throttled.1,
        }
    }
}

/// Reads a running task's counters from its executor state directory; `None` when it
/// is not running.
pub fn sample(state_dir: &Path) -> Option<Sample> {
    if state_dir.join(EXIT_FILE).exists() {
        return None;
    }
    let record: TaskRecord = read_json(&state_dir.join(TASK_FILE))?;
    if record.error.is_some() || !same_process_alive(record.pid, record.start_time) {
        return None;
    }
    let cgroup = recorded_cgroup(state_dir).filter(|c| c.exists());
    if let Some(cgroup) = cgroup.as_ref().filter(|c| c.accounts_usage()) {
        let stats = cgroup.stats();
        return Some(Sample {
            at: Instant::now(),
            cgroup: Some(cgroup.version),
            rss: stats.rss,
            cache: stats.cache,
            swap: stats.swap,
            mapped_file: stats.mapped_file,
            usage: stats.usage,
            max_usage: stats.max_usage,
            user_ns: stats.cpu_user_ns,
            system_ns: stats.cpu_system_ns,
            total_ns: stats.cpu_total_ns,
            throttled_periods: stats.throttled_periods,
            throttled_ns: stats.throttled_ns,
        });
    }
    // A tracking cgroup (raw_exec on v1) also holds what left the process group.
    let members: Option<Vec<i32>> = cgroup.map(|c| c.pids());
    Some(processes_sample(|pid, pgrp| match &members {
        Some(members) => members.contains(&pid),
        None => pgrp == record.pid,
    }))
}

/// Sums `/proc/<pid>/stat` and `status` over the processes `member(pid, pgrp)` picks.
fn processes_sample(member: impl Fn(i32, i32) -> bool) -> Sample {
    let tick_ns = 1_000_000_000 / clock_ticks();
    let mut sample = Sample {
        at: Instant::now(),
        cgroup: None,
        rss: 0,
        cache: 0,
        swap: 0,
        mapped_file: 0,
        usage: 0,
        max_usage: 0,
        user_ns: 0,
        system_ns: 0,
        total_ns: 0,
        throttled_periods: 0,
        throttled_ns: 0,
    };
    for (pid, stat) in all_processes().filter(|(pid, stat)| member(*pid, stat.pgrp)) {
        sample.user_ns += stat.user_ticks * tick_ns;
        sample.system_ns += stat.system_ticks * tick_ns;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        for line in status.lines() {
            let kb = |rest: &str| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0)
                    * 1024
            };
            if let Some(rest) = line.strip_prefix("VmRSS:") {
                sample.rss += kb(rest);
            } else if let Some(rest) = line.strip_prefix("VmSwap:") {
                sample.swap += kb(rest);
            }
        }
    }
    sample.total_ns = sample.user_ns + sample.system_ns;
    sample
}

/// The first core's MHz from `/proc/cpuinfo`, to express CPU use as Nomad's ticks.
fn cpu_mhz() -> f64 {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("cpu MHz")?
                    .split(':')
                    .nth(1)?
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(1000.0)
}

/// Nomad's figures from two samples of the same task.
pub fn usage(before: &Sample, after: &Sample, timestamp: i64) -> TaskResourceUsage {
    let wall = after.at.duration_since(before.at).as_nanos().max(1) as f64;
    let percent = |a: u64, b: u64| b.saturating_sub(a) as f64 / wall * 100.0;
    let total = percent(before.total_ns, after.total_ns);
    let (memory_measured, cpu_measured): (&[&str], &[&str]) = match after.cgroup {
        Some(CgroupVersion::V1) => (
            &["RSS", "Cache", "Swap", "Usage", "Max Usage"],
            &["Throttled Periods", "Throttled Time", "Percent"],
        ),
        Some(CgroupVersion::V2) => (
            &["RSS", "Cache", "Swap", "Usage"],
            &["Throttled Periods", "Throttled Time", "Percent"],
        ),
        None => (&["RSS", "Swap"], &["System Mode", "User Mode", "Percent"]),
    };
    let strings = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    TaskResourceUsage {
        resource_usage: Some(ResourceUsage {
            memory_stats: Some(MemoryStats {
                rss: after.rss,
                cache: after.cache,
                swap: after.swap,
                mapped_file: after.mapped_file,
                usage: after.usage,
                max_usage: after.max_usage,
                kernel_usage: 0,
                kernel_max_usage: 0,
                measured: strings(memory_measured),
            }),
            cpu_stats: Some(CpuStats {
                system_mode: percent(before.system_ns, after.system_ns),
                user_mode: percent(before.user_ns, after.user_ns),
                total_ticks: total / 100.0 * cpu_mhz(),
                throttled_periods: after.throttled_periods,
                throttled_time: after.throttled_ns,
                percent: total,
                measured: strings(cpu_measured),
            }),
            device_stats: Vec::new(),
        }),
        timestamp,
        pids: None,
    }
}

/// The allocation's usage: its tasks' and their sum (Nomad's `AllocResourceUsage`).
pub fn alloc_usage(
    tasks: BTreeMap<String, TaskResourceUsage>,
    timestamp: i64,
) -> AllocResourceUsage {
    let (mut tm, mut tc) = (MemoryStats::default(), CpuStats::default());
    for task in tasks.values() {
        let usage = task.resource_usage.as_ref();
        let m = usage
            .and_then(|u| u.memory_stats.clone())
            .unwrap_or_default();
        let c = usage.and_then(|u| u.cpu_stats.clone()).unwrap_or_default();
        tm.rss += m.rss;
        tm.cache += m.cache;
        tm.swap += m.swap;
        tm.mapped_file += m.mapped_file;
        tm.usage += m.usage;
        tm.max_usage += m.max_usage;
        if tm.measured.is_empty() {
            tm.measured = m.measured.clone();
        }
        tc.system_mode += c.system_mode;
        tc.user_mode += c.user_mode;
        tc.total_ticks += c.total_ticks;
        tc.throttled_periods += c.throttled_periods;
        tc.throttled_time += c.throttled_time;
        tc.percent += c.percent;
        if tc.measured.is_empty() {
            tc.measured = c.measured.clone();
        }
    }
    AllocResourceUsage {
        resource_usage: Some(ResourceUsage {
            memory_stats: Some(tm),
            cpu_stats: Some(tc),
            device_stats: Vec::new(),
        }),
        tasks,
        timestamp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_has_nomads_field_names() {
        let mut tasks = BTreeMap::new();
        let measured = ResourceUsage {
            memory_stats: Some(MemoryStats::default()),
            cpu_stats: Some(CpuStats::default()),
            device_stats: Vec::new(),
        };
        tasks.insert(
            "web".to_string(),
            TaskResourceUsage {
                resource_usage: Some(measured),
                ..TaskResourceUsage::default()
            },
        );
        let json = serde_json::to_value(alloc_usage(tasks, 7)).unwrap();
        assert!(json["ResourceUsage"]["MemoryStats"]["RSS"].is_u64());
        assert!(json["ResourceUsage"]["CpuStats"]["TotalTicks"].is_f64());
        assert!(json["Tasks"]["web"]["ResourceUsage"]["MemoryStats"]["Cache"].is_u64());
        assert_eq!(json["Timestamp"], 7);
    }

    #[test]
    fn percentages_come_from_two_samples() {
        let before = processes_sample(|_, _| false);
        let mut after = before;
        after.at = before.at + std::time::Duration::from_millis(100);
        after.user_ns = 50_000_000;
        after.total_ns = 50_000_000;
        after.rss = 4096;
        let usage = usage(&before, &after, 1);
        let measured = usage.resource_usage.unwrap();
        let cpu = measured.cpu_stats.unwrap();
        assert!((cpu.percent - 50.0).abs() < 0.01, "{}", cpu.percent);
        assert!((cpu.user_mode - 50.0).abs() < 0.01);
        assert_eq!(measured.memory_stats.unwrap().rss, 4096);
    }
}
