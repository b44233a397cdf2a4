//! Allocation garbage collection on the client (Nomad's `AllocGarbageCollector`): the
//! directory, logs and state of an allocation whose tasks have all finished stay for
//! `alloc logs` and `fs` until one of these collects them, oldest first:
//!
//! - the servers no longer list it (their own GC removed it, or `system gc`);
//! - more than `gc_max_allocs` allocations are on the client;
//! - the disk holding the allocation directories is fuller than
//!   `gc_disk_usage_threshold` percent, or its inodes than `gc_inode_usage_threshold`,
//!   checked every `gc_interval`;
//! - `PUT /v1/client/gc`.

use std::path::Path;
use std::time::Duration;

/// The `client { gc_* }` settings, Nomad's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GcConfig {
    pub interval: Duration,
    /// Percent of the disk's blocks in use above which terminal allocations go.
    pub disk_usage_threshold: f64,
    /// Percent of the disk's inodes in use above which terminal allocations go.
    pub inode_usage_threshold: f64,
    /// Allocations (running or not) above which terminal ones go.
    pub max_allocs: usize,
    /// How many allocation directories are removed at once.
    pub parallel_destroys: usize,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            interval: Duration::from_secs(60),
            disk_usage_threshold: 80.0,
            inode_usage_threshold: 70.0,
            max_allocs: 50,
            parallel_destroys: 2,
        }
    }
}

/// How full the filesystem holding `path` is: percent of blocks and of inodes used.
pub fn disk_usage(path: &Path) -> Option<(f64, f64)> {
    let stats = nix::sys::statvfs::statvfs(path).ok()?;
    let percent = |free: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            100.0 * (total - free.min(total)) as f64 / total as f64
        }
    };
    Some((
        percent(stats.blocks_available() as u64, stats.blocks() as u64),
        percent(stats.files_available() as u64, stats.files() as u64),
    ))
}

impl GcConfig {
    /// Whether a disk this full must give up terminal allocations.
    pub fn over_threshold(&self, (disk, inodes): (f64, f64)) -> bool {
        disk > self.disk_usage_threshold || inodes > self.inode_usage_threshold
    }

    /// How many of the oldest terminal allocations go so that `total` allocations fit
    /// under `max_allocs` (Nomad's `MakeRoomFor`).
    pub fn excess(&self, total: usize) -> usize {
        total.saturating_sub(self.max_allocs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_excess_follow_nomads_rules() {
        let config = GcConfig::default();
        assert!(!config.over_threshold((79.9, 10.0)));
        assert!(config.over_threshold((80.1, 10.0)));
        assert!(config.over_threshold((10.0, 70.5)));
        assert_eq!(config.excess(50), 0);
        assert_eq!(config.excess(53), 3);
        let usage = disk_usage(Path::new("/")).unwrap();
        assert!((0.0..=100.0).contains(&usage.0), "{usage:?}");
    }
}
