//! Resource usage of a task's processes, read from `/proc` (every process of the task's
//! process group): what `publish_allocation_metrics` reports for drivers without their own
//! cgroup accounting.

use std::path::Path;

/// Memory and CPU time of one task, summed over its processes.
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

/// Fields of `/proc/<pid>/stat` after the command name: (pgid, utime, stime, rss pages).
pub fn parse_stat(stat: &str) -> Option<(i32, u64, u64, u64)> {
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ... rss(21).
    Some((
        fields.get(2)?.parse().ok()?,
        fields.get(11)?.parse().ok()?,
        fields.get(12)?.parse().ok()?,
        fields.get(21)?.parse().ok()?,
    ))
}

/// Usage of every process whose process group is `pgid`.
pub fn process_group_usage(pgid: i32) -> TaskUsage {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096) as u64;
    let mut usage = TaskUsage::default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return usage;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((group, user, system, rss)) = parse_stat(&stat) else {
            continue;
        };
        if group == pgid {
            usage.rss += rss * page;
            usage.user_ticks += user;
            usage.system_ticks += system;
            usage.processes += 1;
        }
    }
    usage
}

/// Clock ticks per second (`CLK_TCK`).
pub fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat = "1234 (sh (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 100 2000000 250 18446744073709551615";
        assert_eq!(parse_stat(stat), Some((1234, 7, 3, 250)));
    }

    #[test]
    fn own_process_group_has_usage() {
        let pgid = nix::unistd::getpgrp().as_raw();
        let usage = process_group_usage(pgid);
        assert!(usage.processes >= 1 && usage.rss > 0);
    }
}
