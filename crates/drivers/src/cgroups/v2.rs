//! cgroup v2: `<mount>/nomad.slice/<alloc>.<task>.scope`, one directory for everything.

use std::path::Path;

use super::{
    CgroupError, CgroupResources, CgroupStats, CgroupVersion, TaskCgroup, clamp_shares, io_error,
    killable, parse_flat_keyed, read_u64, write_file,
};
use crate::host_path::join_name;

/// Nomad's parent slice.
pub const PARENT: &str = "nomad.slice";

/// Controllers enabled for the task scopes (cpuset only where offered).
const CONTROLLERS: &[&str] = &["cpuset", "cpu", "memory", "pids"];

/// Creates `<mount>/nomad.slice/<name>.scope` and writes the limits.
pub fn create(
    mount: &Path,
    name: &str,
    resources: &CgroupResources,
) -> Result<TaskCgroup, CgroupError> {
    let cgroup = create_scope(mount, name)?;
    if let Some(dir) = cgroup.dirs.get("unified") {
        write_limits(dir, resources)?;
    }
    Ok(cgroup)
}

/// Creates `<mount>/nomad.slice/<name>.scope`, its controllers enabled, with no limits.
pub fn create_scope(mount: &Path, name: &str) -> Result<TaskCgroup, CgroupError> {
    let parent = mount.join(PARENT);
    std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
    // Controllers must be enabled in every ancestor's subtree_control to reach the scope.
    for dir in [mount, parent.as_path()] {
        enable_controllers(dir)?;
    }
    let dir = join_name(&parent, "cgroup", &format!("{name}.scope"))?;
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    Ok(TaskCgroup {
        version: CgroupVersion::V2,
        dirs: [("unified".to_string(), dir)].into(),
    })
}

fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let offered = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let enable: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| offered.split_whitespace().any(|o| o == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if enable.is_empty() {
        return Ok(());
    }
    write_file(&dir.join("cgroup.subtree_control"), &enable.join(" "))
}

/// Writes the task's limits into its scope.
pub fn write_limits(dir: &Path, resources: &CgroupResources) -> Result<(), CgroupError> {
    write_file(&dir.join("memory.max"), &resources.memory_bytes.to_string())?;
    if let Some(soft) = resources.memory_soft_bytes {
        write_file(&dir.join("memory.low"), &soft.to_string())?;
    }
    // No swapping past the limit, where swap is accounted (best effort).
    let _ = std::fs::write(dir.join("memory.swap.max"), "0");
    write_file(
        &dir.join("cpu.weight"),
        &cpu_weight(resources.cpu_shares).to_string(),
    )?;
    write_file(&dir.join("pids.max"), &resources.pids_max.to_string())?;
    if let Some(cpus) = &resources.cpuset_cpus {
        write_file(&dir.join("cpuset.cpus"), cpus)?;
    }
    Ok(())
}

/// v1 shares [2, 262144] to v2 weight [1, 10000], runc's linear conversion (what
/// Nomad's libcontainer used until the log-quadratic fit of newer releases).
pub fn cpu_weight(shares: u64) -> u64 {
    let shares = clamp_shares(shares);
    1 + ((shares - 2) * 9999) / 262_142
}

/// `cgroup.kill` (5.14+) kills everything at once; older kernels: freeze, kill, thaw.
pub fn kill(dir: &Path, pids: &[i32]) {
    if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    let freeze = dir.join("cgroup.freeze");
    let frozen = std::fs::write(&freeze, "1").is_ok();
    for pid in pids.iter().filter(|pid| killable(**pid)) {
        // SAFETY: kill(2) with a PID read from the cgroup; ESRCH is fine.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    if frozen {
        let _ = std::fs::write(&freeze, "0");
    }
}

/// `oom_kill` of `memory.events`.
pub fn oom_kills(dir: &Path) -> u64 {
    let text = std::fs::read_to_string(dir.join("memory.events")).unwrap_or_default();
    parse_flat_keyed(&text)
        .get("oom_kill")
        .copied()
        .unwrap_or(0)
}

/// Memory from `memory.stat`/`memory.current`, CPU and throttling from `cpu.stat`.
pub fn stats(dir: &Path) -> CgroupStats {
    let memory_text = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
    let memory = parse_flat_keyed(&memory_text);
    let cpu_text = std::fs::read_to_string(dir.join("cpu.stat")).unwrap_or_default();
    let cpu = parse_flat_keyed(&cpu_text);
    let get = |map: &std::collections::BTreeMap<String, u64>, key: &str| {
        map.get(key).copied().unwrap_or(0)
    };
    CgroupStats {
        rss: get(&memory, "anon"),
        cache: get(&memory, "file"),
        swap: read_u64(&dir.join("memory.swap.current")).unwrap_or(0),
        mapped_file: get(&memory, "file_mapped"),
        usage: read_u64(&dir.join("memory.current")).unwrap_or(0),
        max_usage: read_u64(&dir.join("memory.peak")).unwrap_or(0),
        cpu_total_ns: get(&cpu, "usage_usec") * 1000,
        cpu_user_ns: get(&cpu, "user_usec") * 1000,
        cpu_system_ns: get(&cpu, "system_usec") * 1000,
        throttled_periods: get(&cpu, "nr_throttled"),
        throttled_ns: get(&cpu, "throttled_usec") * 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_enables_controllers_and_writes_limits() {
        let root = tempfile::tempdir().unwrap();
        let mount = root.path();
        std::fs::write(
            mount.join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        std::fs::create_dir_all(mount.join(PARENT)).unwrap();
        std::fs::write(
            mount.join(PARENT).join("cgroup.controllers"),
            "cpuset cpu memory pids\n",
        )
        .unwrap();
        let resources = CgroupResources {
            memory_bytes: 300 << 20,
            memory_soft_bytes: Some(100 << 20),
            cpu_shares: 100,
            cpuset_cpus: None,
            pids_max: 4096,
        };
        let cgroup = create(mount, "a1.web", &resources).unwrap();
        let scope = mount.join("nomad.slice/a1.web.scope");
        assert_eq!(cgroup.dirs["unified"], scope);
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(
            read(&mount.join("cgroup.subtree_control")),
            "+cpuset +cpu +memory +pids"
        );
        assert_eq!(read(&scope.join("memory.max")), "314572800");
        assert_eq!(read(&scope.join("memory.low")), "104857600");
        assert_eq!(read(&scope.join("cpu.weight")), "4");
        assert_eq!(read(&scope.join("pids.max")), "4096");
    }

    #[test]
    fn cpu_weight_maps_the_share_range_onto_the_weight_range() {
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(262_144), 10_000);
        assert_eq!(cpu_weight(0), 1);
    }

    #[test]
    fn stats_and_oom_kills_are_read_from_the_kernel_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("memory.stat"),
            "anon 8192\nfile 4096\nfile_mapped 1\n",
        )
        .unwrap();
        std::fs::write(d.join("memory.current"), "12288\n").unwrap();
        std::fs::write(
            d.join("cpu.stat"),
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_throttled 2\nthrottled_usec 7\n",
        )
        .unwrap();
        std::fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n",
        )
        .unwrap();
        let stats = stats(d);
        assert_eq!((stats.rss, stats.cache, stats.usage), (8192, 4096, 12288));
        assert_eq!(
            (stats.cpu_total_ns, stats.cpu_user_ns, stats.cpu_system_ns),
            (1_500_000, 1_000_000, 500_000)
        );
        assert_eq!((stats.throttled_periods, stats.throttled_ns), (2, 7000));
        assert_eq!(oom_kills(d), 1);
    }
}
