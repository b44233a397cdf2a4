//! Host resource usage, as Nomad's `publish_node_metrics` reports it: memory, per-CPU
//! time shares, the data directory's disk, uptime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One CPU's busy shares, in percent, over the last sampling interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuUsage {
    /// `cpu0`, `cpu1`, ...
    pub cpu: String,
    pub user: f64,
    pub system: f64,
    pub idle: f64,
    pub total: f64,
}

/// Usage of the disk holding the data directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskUsage {
    pub device: String,
    pub mountpoint: String,
    pub size: u64,
    pub used: u64,
    pub available: u64,
    pub used_percent: f64,
}

/// A sample of the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostStats {
    pub memory_total: u64,
    pub memory_available: u64,
    pub memory_used: u64,
    pub memory_free: u64,
    pub cpus: Vec<CpuUsage>,
    pub disk: DiskUsage,
    /// Seconds since boot.
    pub uptime: u64,
    /// Unix nanoseconds of the sample.
    pub timestamp: i64,
}

/// Cumulative CPU jiffies from `/proc/stat`: (user+nice, system+irq+softirq, idle+iowait, total).
type CpuTimes = BTreeMap<String, (u64, u64, u64, u64)>;

fn read_cpu_times(text: &str) -> CpuTimes {
    let mut times = CpuTimes::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        // Per-CPU lines only (`cpu0`...); the aggregate `cpu` line is left out as Nomad does.
        if !name.starts_with("cpu") || name == "cpu" {
            continue;
        }
        let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
        let get = |i: usize| values.get(i).copied().unwrap_or(0);
        let user = get(0) + get(1);
        let system = get(2) + get(5) + get(6);
        let idle = get(3) + get(4);
        let total = values.iter().take(8).sum();
        times.insert(name.to_string(), (user, system, idle, total));
    }
    times
}

/// Percent shares between two samples of `/proc/stat`.
pub fn cpu_usage(previous: &str, current: &str) -> Vec<CpuUsage> {
    let before = read_cpu_times(previous);
    let after = read_cpu_times(current);
    after
        .iter()
        .map(|(cpu, (user, system, idle, total))| {
            let (pu, ps, pi, pt) = before.get(cpu).copied().unwrap_or_default();
            let span = total.saturating_sub(pt).max(1) as f64;
            let share = |now: u64, then: u64| now.saturating_sub(then) as f64 * 100.0 / span;
            let idle_share = share(*idle, pi);
            CpuUsage {
                cpu: cpu.clone(),
                user: share(*user, pu),
                system: share(*system, ps),
                idle: idle_share,
                total: (100.0 - idle_share).max(0.0),
            }
        })
        .collect()
}

/// `MemTotal`, `MemAvailable` and `MemFree` in bytes.
pub fn memory(meminfo: &str) -> (u64, u64, u64) {
    let field = |key: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (
        field("MemTotal:"),
        field("MemAvailable:"),
        field("MemFree:"),
    )
}

/// Samples the host every `interval`, keeping the latest sample; CPU shares need two
/// `/proc/stat` readings, so the first sample after start reports them from boot.
pub struct HostSampler {
    data_dir: PathBuf,
    previous_stat: String,
}

impl HostSampler {
    /// A sampler for the disk that holds `data_dir`.
    pub fn new(data_dir: &Path) -> HostSampler {
        HostSampler {
            data_dir: data_dir.to_path_buf(),
            previous_stat: String::new(),
        }
    }

    /// Takes one sample.
    pub fn sample(&mut self) -> HostStats {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpus = cpu_usage(&self.previous_stat, &stat);
        self.previous_stat = stat;
        let (memory_total, memory_available, memory_free) =
            memory(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default());
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| {
                t.split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .unwrap_or(0.0) as u64;
        let disk = nix::sys::statvfs::statvfs(&self.data_dir)
            .map(|s| {
                let block = s.fragment_size();
                let size = s.blocks() * block;
                let available = s.blocks_available() * block;
                let used = size.saturating_sub(s.blocks_free() * block);
                DiskUsage {
                    device: mount_device(&self.data_dir).unwrap_or_default(),
                    mountpoint: self.data_dir.display().to_string(),
                    size,
                    used,
                    available,
                    used_percent: if size == 0 {
                        0.0
                    } else {
                        used as f64 * 100.0 / size as f64
                    },
                }
            })
            .unwrap_or_default();
        HostStats {
            memory_total,
            memory_available,
            memory_used: memory_total.saturating_sub(memory_available),
            memory_free,
            cpus,
            disk,
            uptime,
            timestamp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_nanos() as i64,
        }
    }
}

/// The device of the longest mount point that holds `path`, from `/proc/mounts`.
fn mount_device(path: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let mountpoint = fields.next()?;
            path.starts_with(mountpoint)
                .then(|| (mountpoint.len(), device.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, device)| device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_shares_come_from_the_difference_of_two_samples() {
        let before = "cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 10 0 10 80 0 0 0 0 0 0\n";
        let after = "cpu  40 0 20 140 0 0 0 0 0 0\ncpu0 40 0 20 140 0 0 0 0 0 0\n";
        let usage = cpu_usage(before, after);
        assert_eq!(usage.len(), 1);
        assert_eq!(usage[0].cpu, "cpu0");
        assert!((usage[0].user - 30.0).abs() < 1e-9);
        assert!((usage[0].system - 10.0).abs() < 1e-9);
        assert!((usage[0].idle - 60.0).abs() < 1e-9);
        assert!((usage[0].total - 40.0).abs() < 1e-9);
    }

    #[test]
    fn memory_reads_meminfo_in_bytes() {
        let meminfo = "MemTotal:       2048 kB\nMemFree:         512 kB\nMemAvailable:   1024 kB\n";
        assert_eq!(memory(meminfo), (2048 * 1024, 1024 * 1024, 512 * 1024));
    }

    #[test]
    fn a_real_sample_is_sane() {
        let dir = tempfile::tempdir().unwrap();
        let mut sampler = HostSampler::new(dir.path());
        sampler.sample();
        let stats = sampler.sample();
        assert!(stats.memory_total > 0 && stats.memory_used <= stats.memory_total);
        assert!(!stats.cpus.is_empty());
        assert!(stats.disk.size > 0);
    }
}
