//! What this host lets the tests do.

/// Why the isolated `exec` driver cannot run here, if it cannot: it needs root and a
/// cgroup hierarchy (v1 with the memory, cpu, pids and freezer controllers, or v2 with
/// memory, cpu and pids).
pub fn exec_unsupported() -> Option<String> {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    if euid != "0" {
        return Some("the exec driver needs root".into());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v1 = ["memory", "cpu", "pids", "freezer"].iter().all(|c| {
        mountinfo
            .lines()
            .any(|l| l.contains(" - cgroup ") && l.split(',').any(|o| o.trim() == *c))
    });
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| ["memory", "cpu", "pids"].iter().all(|w| c.contains(w)));
    if !v1 && !v2 {
        return Some("no usable cgroup hierarchy is mounted".into());
    }
    None
}

/// Whether `pid` runs (a zombie, which still answers `kill(0)`, does not).
pub fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Returns from the test (which passes, saying `skipping: <why>`) when `$reason`, an
/// `Option` of why the test cannot run here, is `Some`.
#[macro_export]
macro_rules! skip_if {
    ($reason:expr) => {
        if let Some(reason) = $reason {
            println!("skipping: {reason}");
            return;
        }
    };
}

/// Returns from the test (which passes, saying `skipping: <why>`) where the `exec`
/// driver cannot run ([`exec_unsupported`]).
#[macro_export]
macro_rules! require_exec {
    () => {
        $crate::skip_if!($crate::host::exec_unsupported())
    };
}
