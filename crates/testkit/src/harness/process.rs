//! The processes a task leaves, found by their environment.

use std::process::Command;

use crate::host::process_alive;

/// PIDs of processes whose environment has a variable for which `matches` holds (given
/// as `NAME=value` bytes).
fn processes_with_env(matches: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ.split(|b| *b == 0).any(&matches).then_some(pid)
        })
        .collect()
}

/// PIDs of processes with an environment variable `name` (given with its `=`) whose
/// value starts with `prefix`.
pub fn processes_with_env_prefix(name: &str, prefix: &str) -> Vec<i32> {
    let needle = format!("{name}{prefix}");
    processes_with_env(|var| var.starts_with(needle.as_bytes()))
}

/// PIDs of live processes whose environment says they belong to `alloc_id`.
pub fn processes_of_alloc(alloc_id: &str) -> Vec<i32> {
    let needle = format!("NOMAD_ALLOC_ID={alloc_id}");
    processes_with_env(|var| var == needle.as_bytes())
        .into_iter()
        .filter(|pid| process_alive(*pid))
        .collect()
}

/// Kills (SIGKILL) every process of `alloc_id` that is left.
pub fn kill_processes_of_alloc(alloc_id: &str) {
    for pid in processes_of_alloc(alloc_id) {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
}
