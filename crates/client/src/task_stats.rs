//! Resource usage of a task's processes, read from `/proc` (every process of the task's
//! process group): what `publish_allocation_metrics` reports for drivers without their own
//! cgroup accounting.

use std::path::Path;

use caravan_drivers::proc_stat::all_processes;
pub use caravan_drivers::proc_stat::clock_ticks;

/// Memory and CPU time of one task, summed over its processes. The times are in clock
/// ticks ([`clock_ticks`] a second).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TaskUsage {
    /// Resident set size, bytes.
    pub rss: u64,
    /// Cumulative user CPU time, clock ticks.
    pub user_ticks: u64,
    /// Cumulative system CPU time, clock ticks.
    pub system_ticks: u64,
    /// Number of processes counted.
    pub processes: u64,
}

/// The task's leader PID as its executor recorded it (`task.json`), if it still runs.
pub fn recorded_task_pid(executor_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(executor_dir.join("task.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let pid = value.get("pid")?.as_i64()? as i32;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Usage of every process whose process group is `pgid`.
pub fn process_group_usage(pgid: i32) -> TaskUsage {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    let mut usage = TaskUsage::default();
    for (_, stat) in all_processes().filter(|(_, stat)| stat.pgrp == pgid) {
        usage.rss += stat.rss_pages * page;
        usage.user_ticks += stat.user_ticks;
        usage.system_ticks += stat.system_ticks;
        usage.processes += 1;
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_group_has_usage() {
        let pgid = nix::unistd::getpgrp().as_raw();
        let usage = process_group_usage(pgid);
        assert!(usage.processes >= 1 && usage.rss > 0);
    }
}
