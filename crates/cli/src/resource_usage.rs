//! Live resource usage as `alloc status` shows it: the agent's
//! `GET /v1/client/allocation/:id/stats` answer (Nomad's `AllocResourceUsage`) and the
//! `Memory Stats` / `CPU Stats` tables of `-stats` (Nomad's
//! `outputVerboseResourceUsage`).

use caravan_api_types::ResourceUsage;

use crate::byte_size::ibytes;
use crate::columnize::format_list;

/// The CPU cell of `Task Resources`: `<used>/<reserved>` with live figures (Nomad
/// floors the MHz), else the reservation.
pub fn cpu_cell(reserved_mhz: i64, usage: Option<&ResourceUsage>) -> String {
    match usage.and_then(|u| u.cpu_stats.as_ref()) {
        Some(cpu) => format!("{}/{reserved_mhz}", cpu.total_ticks.floor().max(0.0) as u64),
        None => reserved_mhz.to_string(),
    }
}

/// The Memory cell of `Task Resources`: `<used>/<reserved>` with live figures, else the
/// reservation. Nomad shows RSS, or `Usage` when RSS was not measured (cgroups v2).
pub fn memory_cell(reserved: &str, usage: Option<&ResourceUsage>) -> String {
    match usage.and_then(|u| u.memory_stats.as_ref()) {
        Some(memory) => {
            let used = if memory.rss == 0 && !memory.measured.iter().any(|m| m == "RSS") {
                memory.usage
            } else {
                memory.rss
            };
            format!("{}/{reserved}", ibytes(used))
        }
        None => reserved.to_string(),
    }
}

/// Nomad's `outputVerboseResourceUsage`: `Memory Stats` and `CPU Stats`, each a table
/// of the measured figures in name order; empty when nothing was measured.
pub fn render_verbose_usage(usage: &ResourceUsage) -> String {
    let mut parts = Vec::new();
    if let Some(memory) = usage
        .memory_stats
        .as_ref()
        .filter(|m| !m.measured.is_empty())
    {
        let mut names = memory.measured.clone();
        names.sort();
        let values: Vec<String> = names
            .iter()
            .filter_map(|name| {
                let bytes = match name.as_str() {
                    "RSS" => memory.rss,
                    "Cache" => memory.cache,
                    "Swap" => memory.swap,
                    "Usage" => memory.usage,
                    "Max Usage" => memory.max_usage,
                    "Kernel Usage" => memory.kernel_usage,
                    "Kernel Max Usage" => memory.kernel_max_usage,
                    _ => return None,
                };
                Some(ibytes(bytes))
            })
            .collect();
        parts.push(format!(
            "Memory Stats\n{}\n\n",
            format_list(&[names.join("|"), values.join("|")])
        ));
    }
    if let Some(cpu) = usage.cpu_stats.as_ref().filter(|c| !c.measured.is_empty()) {
        let mut names = cpu.measured.clone();
        names.sort();
        let values: Vec<String> = names
            .iter()
            .filter_map(|name| match name.as_str() {
                "Percent" => Some(format!("{:.2}%", cpu.percent)),
                "Throttled Periods" => Some(cpu.throttled_periods.to_string()),
                "Throttled Time" => Some(cpu.throttled_time.to_string()),
                "User Mode" => Some(format!("{:.2}%", cpu.user_mode)),
                "System Mode" => Some(format!("{:.2}%", cpu.system_mode)),
                _ => None,
            })
            .collect();
        parts.push(format!(
            "CPU Stats\n{}",
            format_list(&[names.join("|"), values.join("|")])
        ));
    }
    parts.concat().trim_end_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_api_types::{CpuStats, MemoryStats};

    const MIB: u64 = 1024 * 1024;

    fn usage(memory: Option<MemoryStats>, cpu: Option<CpuStats>) -> ResourceUsage {
        ResourceUsage {
            memory_stats: memory,
            cpu_stats: cpu,
            ..ResourceUsage::default()
        }
    }

    fn memory(rss: u64, usage: u64, measured: &[&str]) -> MemoryStats {
        MemoryStats {
            rss,
            usage,
            swap: 0,
            cache: 3 * MIB,
            measured: measured.iter().map(|m| m.to_string()).collect(),
            ..MemoryStats::default()
        }
    }

    fn cpu(ticks: f64, measured: &[&str]) -> CpuStats {
        CpuStats {
            total_ticks: ticks,
            percent: 1.23456,
            user_mode: 1.0,
            system_mode: 0.5,
            throttled_periods: 4,
            throttled_time: 12_000,
            measured: measured.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn resource_cells() {
        let live = usage(
            Some(memory(1_677_722, 9 * MIB, &["RSS", "Swap"])),
            Some(cpu(12.9, &["Percent"])),
        );
        assert_eq!(cpu_cell(100, Some(&live)), "12/100");
        assert_eq!(memory_cell("300 MiB", Some(&live)), "1.6 MiB/300 MiB");
        assert_eq!(cpu_cell(100, None), "100");
        assert_eq!(memory_cell("300 MiB", None), "300 MiB");
        // cgroups v2: no RSS measured, Nomad falls back to Usage.
        let v2 = usage(Some(memory(0, 9 * MIB, &["Usage"])), None);
        assert_eq!(memory_cell("300 MiB", Some(&v2)), "9.0 MiB/300 MiB");
        assert_eq!(cpu_cell(100, Some(&v2)), "100");
        // Measured zero RSS stays zero.
        let idle = usage(Some(memory(0, 9 * MIB, &["RSS"])), None);
        assert_eq!(memory_cell("300 MiB", Some(&idle)), "0 B/300 MiB");
    }

    #[test]
    fn verbose_tables() {
        let cases: &[(&str, ResourceUsage, &str)] = &[
            (
                "raw_exec_proc_figures",
                usage(
                    Some(memory(1_677_722, 0, &["RSS", "Swap"])),
                    Some(cpu(12.0, &["System Mode", "User Mode", "Percent"])),
                ),
                "Memory Stats\nRSS      Swap\n1.6 MiB  0 B\n\nCPU Stats\nPercent  System Mode  User Mode\n1.23%    0.50%        1.00%",
            ),
            (
                "cgroup_figures_sorted_by_name",
                usage(
                    Some(memory(
                        2 * MIB,
                        5 * MIB,
                        &["RSS", "Cache", "Swap", "Usage", "Max Usage"],
                    )),
                    Some(cpu(
                        0.0,
                        &["Throttled Time", "Percent", "Throttled Periods"],
                    )),
                ),
                "Memory Stats\nCache    Max Usage  RSS      Swap  Usage\n3.0 MiB  0 B        2.0 MiB  0 B   5.0 MiB\n\nCPU Stats\nPercent  Throttled Periods  Throttled Time\n1.23%    4                  12000",
            ),
            (
                "nothing_measured",
                usage(Some(memory(1, 1, &[])), Some(cpu(1.0, &[]))),
                "",
            ),
            (
                "cpu_only",
                usage(None, Some(cpu(1.0, &["Percent"]))),
                "CPU Stats\nPercent\n1.23%",
            ),
        ];
        for (name, usage, want) in cases {
            assert_eq!(render_verbose_usage(usage), *want, "{name}");
        }
    }
}
