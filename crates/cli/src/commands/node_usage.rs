//! What `node status <node>` shows of a node's drain and of its measured usage (Nomad's
//! `formatDrain`, `getActualResources`, `getHostResources` and `-stats`' sections):
//! data in, rows out.

use caravan_api_types::{AllocResourceUsage, HostStatsResponse};
use caravan_structs::Node;

use crate::byte_size::{ibytes, ibytes_mb};
use crate::columnize::format_kv;
use crate::time_format::TimeContext;

/// The `Drain` line: `false`, or `true` with how the drain ends (`; force drain`,
/// `; no deadline`, `; <time> deadline`) and `; ignoring system jobs`.
pub fn format_drain(node: &Node, time: &TimeContext) -> String {
    let Some(strategy) = &node.drain_strategy else {
        return node.drain.to_string();
    };
    let mut text = "true".to_string();
    if strategy.drain_spec.deadline < 0 {
        text.push_str("; force drain");
    } else if strategy.force_deadline_nanos().is_none() {
        text.push_str("; no deadline");
    } else {
        text.push_str(&format!(
            "; {} deadline",
            time.format_text(&strategy.force_deadline)
        ));
    }
    if strategy.drain_spec.ignore_system_jobs {
        text.push_str("; ignoring system jobs");
    }
    text
}

/// The `Uptime` line's value: Go's duration of the host's uptime (`263h41m26s`).
pub fn uptime(stats: &HostStatsResponse) -> String {
    let seconds = i64::try_from(stats.uptime).unwrap_or(i64::MAX / 1_000_000_000);
    caravan_structs::time::format_duration(seconds.saturating_mul(1_000_000_000))
}

/// "Allocation Resource Utilization": what the running allocations use of what the node
/// can hand out (memory is the cgroup's usage where measured, else the RSS).
pub fn alloc_utilization(node: &Node, usages: &[AllocResourceUsage]) -> Vec<String> {
    let (total_cpu, total_memory) = node.allocatable();
    let mut cpu = 0.0;
    let mut memory = 0u64;
    for usage in usages.iter().filter_map(|u| u.resource_usage.as_ref()) {
        cpu += usage.cpu_stats.as_ref().map_or(0.0, |c| c.total_ticks);
        if let Some(stats) = &usage.memory_stats {
            memory += if stats.usage > 0 {
                stats.usage
            } else {
                stats.rss
            };
        }
    }
    vec![
        "CPU|Memory".to_string(),
        format!(
            "{}/{total_cpu} MHz|{}/{}",
            cpu.floor(),
            ibytes(memory),
            ibytes_mb(total_memory)
        ),
    ]
}

/// "Host Resource Utilization": what the whole host uses. The disk is the one that
/// holds the node's data directory (`unique.storage.volume`); when no disk sample is of
/// it, only its name is shown, as Nomad does for a non-physical device.
pub fn host_utilization(node: &Node, stats: &HostStatsResponse) -> Vec<String> {
    let volume = node
        .attributes
        .get("unique.storage.volume")
        .map(String::as_str)
        .unwrap_or("");
    // Caravan's fingerprint names the data directory, Nomad's the device: either matches.
    let disk = stats
        .disk_stats
        .iter()
        .find(|d| d.device == volume || d.mountpoint == volume);
    let cpu = format!(
        "{}/{} MHz",
        stats.cpu_ticks_consumed.floor(),
        node.node_resources.cpu.cpu_shares
    );
    let memory = format!(
        "{}/{}",
        ibytes(stats.memory.used),
        ibytes(stats.memory.total)
    );
    let disk = match disk {
        Some(disk) => format!("{}/{}", ibytes(disk.used), ibytes(disk.size)),
        None => format!("({volume})"),
    };
    vec![
        "CPU|Memory|Disk".to_string(),
        format!("{cpu}|{memory}|{disk}"),
    ]
}

/// `-stats`: the "CPU Stats", "Memory Stats" and "Disk Stats" blocks' contents, each a
/// list of key-value blocks separated by an empty line.
pub fn cpu_stats(stats: &HostStatsResponse) -> String {
    stats
        .cpu
        .iter()
        .map(|cpu| {
            format_kv(&[
                format!("CPU|{}", cpu.cpu),
                format!("User|{}%", humanize_float(cpu.user)),
                format!("System|{}%", humanize_float(cpu.system)),
                format!("Idle|{}%", humanize_float(cpu.idle)),
            ])
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// See [`cpu_stats`].
pub fn memory_stats(stats: &HostStatsResponse) -> String {
    let memory = &stats.memory;
    format_kv(&[
        format!("Total|{}", ibytes(memory.total)),
        format!("Available|{}", ibytes(memory.available)),
        format!("Used|{}", ibytes(memory.used)),
        format!("Free|{}", ibytes(memory.free)),
    ])
}

/// See [`cpu_stats`].
pub fn disk_stats(stats: &HostStatsResponse) -> String {
    stats
        .disk_stats
        .iter()
        .map(|disk| {
            format_kv(&[
                format!("Device|{}", disk.device),
                format!("MountPoint|{}", disk.mountpoint),
                format!("Size|{}", ibytes(disk.size)),
                format!("Used|{}", ibytes(disk.used)),
                format!("Available|{}", ibytes(disk.available)),
                format!("Used Percent|{}%", humanize_float(disk.used_percent)),
                format!(
                    "Inodes Percent|{}%",
                    humanize_float(disk.inodes_used_percent)
                ),
            ])
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// go-humanize's `FormatFloat("#,###.##", x)`: thousands separated by commas, always
/// two decimals.
fn humanize_float(value: f64) -> String {
    let text = format!("{:.2}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 { "-" } else { "" };
    format!("{sign}{grouped}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_api_types::{HostCpuStats, HostDiskStats, HostMemoryStats};
    use caravan_structs::{DrainSpec, DrainStrategy};

    const GIB: u64 = 1024 * 1024 * 1024;

    fn stats() -> HostStatsResponse {
        HostStatsResponse {
            memory: HostMemoryStats {
                total: 8 * GIB,
                available: 6 * GIB,
                used: 2 * GIB,
                free: 5 * GIB,
            },
            cpu: vec![
                HostCpuStats {
                    cpu: "cpu0".into(),
                    user: 12.5,
                    system: 2.25,
                    idle: 85.25,
                    total: 14.75,
                },
                HostCpuStats {
                    cpu: "cpu1".into(),
                    idle: 100.0,
                    ..HostCpuStats::default()
                },
            ],
            disk_stats: vec![HostDiskStats {
                device: "/dev/sda1".into(),
                mountpoint: "/var/lib/caravan".into(),
                size: 100 * GIB,
                used: 40 * GIB,
                available: 60 * GIB,
                used_percent: 40.0,
                inodes_used_percent: 1.5,
            }],
            uptime: 949_286,
            cpu_ticks_consumed: 590.9,
            ..HostStatsResponse::default()
        }
    }

    fn node() -> Node {
        let mut node = caravan_testkit::node("n1").memory(8192).build();
        node.attributes
            .insert("unique.storage.volume".into(), "/var/lib/caravan".into());
        node
    }

    #[test]
    fn drain_lines_say_how_the_drain_ends() {
        let time = TimeContext::fixed_utc(0);
        let mut node = node();
        assert_eq!(format_drain(&node, &time), "false");
        node.drain = true;
        assert_eq!(format_drain(&node, &time), "true");
        let cases = [
            (-1, false, "true; force drain"),
            (0, false, "true; no deadline"),
            (0, true, "true; no deadline; ignoring system jobs"),
            (
                60_000_000_000,
                true,
                "true; 1970-01-01T00:01:00Z deadline; ignoring system jobs",
            ),
        ];
        for (deadline, ignore_system_jobs, want) in cases {
            let spec = DrainSpec {
                deadline,
                ignore_system_jobs,
            };
            node.drain_strategy = Some(DrainStrategy::starting(spec, 0));
            assert_eq!(format_drain(&node, &time), want, "{deadline}");
        }
    }

    #[test]
    fn uptime_is_a_go_duration() {
        assert_eq!(uptime(&stats()), "263h41m26s");
    }

    #[test]
    fn utilization_rows() {
        let usage: AllocResourceUsage = serde_json::from_value(serde_json::json!({
            "ResourceUsage": {
                "CpuStats": {"TotalTicks": 120.7},
                "MemoryStats": {"RSS": 50 * 1024 * 1024, "Usage": 0},
            }
        }))
        .unwrap();
        assert_eq!(
            alloc_utilization(&node(), &[usage.clone(), usage]),
            ["CPU|Memory", "241/4000 MHz|100 MiB/8.0 GiB"]
        );
        assert_eq!(
            host_utilization(&node(), &stats()),
            [
                "CPU|Memory|Disk",
                "590/4000 MHz|2.0 GiB/8.0 GiB|40 GiB/100 GiB"
            ]
        );
        let mut elsewhere = node();
        elsewhere
            .attributes
            .insert("unique.storage.volume".into(), "/dev/md0".into());
        assert_eq!(
            host_utilization(&elsewhere, &stats())[1],
            "590/4000 MHz|2.0 GiB/8.0 GiB|(/dev/md0)"
        );
    }

    #[test]
    fn stats_blocks() {
        assert_eq!(
            cpu_stats(&stats()),
            "CPU    = cpu0
User   = 12.50%
System = 2.25%
Idle   = 85.25%

CPU    = cpu1
User   = 0.00%
System = 0.00%
Idle   = 100.00%"
        );
        assert_eq!(
            memory_stats(&stats()),
            "Total     = 8.0 GiB
Available = 6.0 GiB
Used      = 2.0 GiB
Free      = 5.0 GiB"
        );
        assert_eq!(
            disk_stats(&stats()),
            "Device         = /dev/sda1
MountPoint     = /var/lib/caravan
Size           = 100 GiB
Used           = 40 GiB
Available      = 60 GiB
Used Percent   = 40.00%
Inodes Percent = 1.50%"
        );
        assert_eq!(humanize_float(1234567.891), "1,234,567.89");
    }
}
