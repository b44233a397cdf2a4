//! cgroup v1: one directory per controller under `<mount>/nomad/<alloc>.<task>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    CgroupError, CgroupResources, CgroupStats, CgroupVersion, TaskCgroup, clamp_shares, io_error,
    killable, parse_flat_keyed, read_pids, read_u64, write_file,
};
use crate::host_path::join_name;
use crate::proc_stat::clock_ticks;

/// Nomad's parent cgroup in every v1 controller.
pub const PARENT: &str = "nomad";

/// Creates `<mount>/nomad/<name>` in every mounted controller and writes the limits.
pub fn create(
    mounts: &BTreeMap<String, PathBuf>,
    name: &str,
    resources: &CgroupResources,
) -> Result<TaskCgroup, CgroupError> {
    let mut dirs = BTreeMap::new();
    for (controller, mount) in mounts {
        let parent = mount.join(PARENT);
        let dir = join_name(&parent, "cgroup", name)?;
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        if controller == "cpuset" {
            // A v1 cpuset cgroup takes no process until its cpus and mems are set, and
            // they must be a subset of its parent's.
            inherit_cpuset(mount, &parent)?;
            let cpus = match &resources.cpuset_cpus {
                Some(cpus) => cpus.clone(),
                None => read_trimmed(&parent.join("cpuset.cpus")),
            };
            write_file(&dir.join("cpuset.cpus"), &cpus)?;
            write_file(
                &dir.join("cpuset.mems"),
                &read_trimmed(&parent.join("cpuset.mems")),
            )?;
        }
        dirs.insert(controller.clone(), dir);
    }
    let cgroup = TaskCgroup {
        version: CgroupVersion::V1,
        dirs,
    };
    write_limits(&cgroup.dirs, resources)?;
    Ok(cgroup)
}

/// Creates `<freezer mount>/nomad/<name>` only: a cgroup to find and kill a task's
/// processes by, with no limits.
pub fn create_freezer(
    mounts: &BTreeMap<String, PathBuf>,
    name: &str,
) -> Result<TaskCgroup, CgroupError> {
    let mount = mounts.get("freezer").ok_or(CgroupError::NoMount)?;
    let dir = join_name(&mount.join(PARENT), "cgroup", name)?;
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    Ok(TaskCgroup {
        version: CgroupVersion::V1,
        dirs: [("freezer".to_string(), dir)].into(),
    })
}

/// Writes the task's limits into its controller directories.
pub fn write_limits(
    dirs: &BTreeMap<String, PathBuf>,
    resources: &CgroupResources,
) -> Result<(), CgroupError> {
    if let Some(memory) = dirs.get("memory") {
        write_file(
            &memory.join("memory.limit_in_bytes"),
            &resources.memory_bytes.to_string(),
        )?;
        // Without this, a task could swap past its limit instead of being OOM-killed.
        // Only where swap accounting is on (the file exists); never below the RAM limit.
        let memsw = memory.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            write_file(&memsw, &resources.memory_bytes.to_string())?;
        }
        if let Some(soft) = resources.memory_soft_bytes {
            write_file(
                &memory.join("memory.soft_limit_in_bytes"),
                &soft.to_string(),
            )?;
        }
        // Nomad: swappiness 0 where the kernel lets us (best effort).
        let _ = std::fs::write(memory.join("memory.swappiness"), "0");
    }
    if let Some(cpu) = dirs.get("cpu") {
        write_file(
            &cpu.join("cpu.shares"),
            &clamp_shares(resources.cpu_shares).to_string(),
        )?;
    }
    if let Some(pids) = dirs.get("pids") {
        write_file(&pids.join("pids.max"), &resources.pids_max.to_string())?;
    }
    if let Some(devices) = dirs.get("devices") {
        // Nothing but the task's minimal /dev, read and written only: no `m`, so no
        // device node can be made, and no other device opened, even by a task with
        // CAP_MKNOD.
        write_file(&devices.join("devices.deny"), "a")?;
        for rule in ALLOWED_DEVICES {
            write_file(&devices.join("devices.allow"), rule)?;
        }
    }
    Ok(())
}

/// The devices an `exec` task may open: null, zero, full, random, urandom, tty, ptmx
/// and the pseudo-terminals (runc's default set, without mknod).
pub const ALLOWED_DEVICES: &[&str] = &[
    "c 1:3 rw",
    "c 1:5 rw",
    "c 1:7 rw",
    "c 1:8 rw",
    "c 1:9 rw",
    "c 5:0 rw",
    "c 5:2 rw",
    "c 136:* rw",
];

fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Gives `/nomad` the root's cpus and mems when it has none yet.
fn inherit_cpuset(mount: &Path, parent: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read_trimmed(&parent.join(file)).is_empty() {
            write_file(&parent.join(file), &read_trimmed(&mount.join(file)))?;
        }
    }
    Ok(())
}

/// Freezes the cgroup so nothing forks, SIGKILLs every process, thaws it so the kills
/// are delivered.
pub fn freeze_and_kill(freezer: &Path, pids: &[i32]) {
    let state = freezer.join("freezer.state");
    let frozen = std::fs::write(&state, "FROZEN").is_ok();
    if frozen {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if read_trimmed(&state) == "FROZEN" {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // Re-read under the freeze: nothing new can appear now.
    let procs = freezer.join("cgroup.procs");
    let frozen_pids: Vec<i32> = if procs.exists() {
        read_pids(&procs)
    } else {
        pids.iter().copied().filter(|pid| killable(*pid)).collect()
    };
    for pid in frozen_pids {
        // SAFETY: kill(2) with a PID read from the cgroup; ESRCH is fine.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    if frozen {
        let _ = std::fs::write(&state, "THAWED");
    }
}

/// `oom_kill` of `memory.oom_control` (kernel 4.13+).
pub fn oom_kills(memory: &Path) -> u64 {
    let text = std::fs::read_to_string(memory.join("memory.oom_control")).unwrap_or_default();
    parse_flat_keyed(&text)
        .get("oom_kill")
        .copied()
        .unwrap_or(0)
}

/// Memory from `memory.stat`/`memory.usage_in_bytes`, CPU from `cpuacct`, throttling
/// from `cpu.stat`.
pub fn stats(dirs: &BTreeMap<String, PathBuf>) -> CgroupStats {
    let mut stats = CgroupStats::default();
    if let Some(memory) = dirs.get("memory") {
        let text = std::fs::read_to_string(memory.join("memory.stat")).unwrap_or_default();
        let memory_stat = parse_flat_keyed(&text);
        let get = |key: &str| memory_stat.get(key).copied().unwrap_or(0);
        stats.rss = get("rss");
        stats.cache = get("cache");
        stats.swap = get("swap");
        stats.mapped_file = get("mapped_file");
        stats.usage = read_u64(&memory.join("memory.usage_in_bytes")).unwrap_or(0);
        stats.max_usage = read_u64(&memory.join("memory.max_usage_in_bytes")).unwrap_or(0);
    }
    if let Some(cpuacct) = dirs.get("cpuacct") {
        stats.cpu_total_ns = read_u64(&cpuacct.join("cpuacct.usage")).unwrap_or(0);
        let text = std::fs::read_to_string(cpuacct.join("cpuacct.stat")).unwrap_or_default();
        let cpu_stat = parse_flat_keyed(&text);
        // cpuacct.stat counts USER_HZ ticks (100 per second).
        let tick_ns = 1_000_000_000 / clock_ticks();
        stats.cpu_user_ns = cpu_stat.get("user").copied().unwrap_or(0) * tick_ns;
        stats.cpu_system_ns = cpu_stat.get("system").copied().unwrap_or(0) * tick_ns;
    }
    if let Some(cpu) = dirs.get("cpu") {
        let text = std::fs::read_to_string(cpu.join("cpu.stat")).unwrap_or_default();
        let cpu_stat = parse_flat_keyed(&text);
        stats.throttled_periods = cpu_stat.get("nr_throttled").copied().unwrap_or(0);
        stats.throttled_ns = cpu_stat.get("throttled_time").copied().unwrap_or(0);
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake v1 hierarchy: each controller a directory holding the files the kernel
    /// would create in a new cgroup.
    fn fake_mounts(root: &Path) -> BTreeMap<String, PathBuf> {
        let mut mounts = BTreeMap::new();
        for controller in ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer"] {
            let mount = root.join(controller);
            std::fs::create_dir_all(&mount).unwrap();
            mounts.insert(controller.to_string(), mount);
        }
        std::fs::write(root.join("cpuset/cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(root.join("cpuset/cpuset.mems"), "0\n").unwrap();
        mounts
    }

    #[test]
    fn create_writes_nomads_limits_in_each_controller() {
        let root = tempfile::tempdir().unwrap();
        let mounts = fake_mounts(root.path());
        let resources = CgroupResources {
            memory_bytes: 300 << 20,
            memory_soft_bytes: None,
            cpu_shares: 500,
            cpuset_cpus: None,
            pids_max: 4096,
        };
        let cgroup = create(&mounts, "a1.web", &resources).unwrap();
        let read = |rel: &str| std::fs::read_to_string(root.path().join(rel)).unwrap();
        assert_eq!(
            read("memory/nomad/a1.web/memory.limit_in_bytes"),
            "314572800"
        );
        assert_eq!(read("cpu/nomad/a1.web/cpu.shares"), "500");
        assert_eq!(read("pids/nomad/a1.web/pids.max"), "4096");
        assert_eq!(read("cpuset/nomad/cpuset.cpus"), "0-3");
        assert_eq!(read("cpuset/nomad/a1.web/cpuset.cpus"), "0-3");
        assert_eq!(read("cpuset/nomad/a1.web/cpuset.mems"), "0");
        assert_eq!(cgroup.dirs.len(), 6);
        assert_eq!(
            cgroup.dirs["freezer"],
            root.path().join("freezer/nomad/a1.web")
        );
    }

    #[test]
    fn memory_max_makes_memory_the_soft_limit_and_cores_pin() {
        let root = tempfile::tempdir().unwrap();
        let mounts = fake_mounts(root.path());
        let resources = CgroupResources {
            memory_bytes: 512 << 20,
            memory_soft_bytes: Some(256 << 20),
            cpu_shares: 1,
            cpuset_cpus: Some("1".into()),
            pids_max: 64,
        };
        create(&mounts, "a1.web", &resources).unwrap();
        let read = |rel: &str| std::fs::read_to_string(root.path().join(rel)).unwrap();
        assert_eq!(
            read("memory/nomad/a1.web/memory.limit_in_bytes"),
            "536870912"
        );
        assert_eq!(
            read("memory/nomad/a1.web/memory.soft_limit_in_bytes"),
            "268435456"
        );
        assert_eq!(read("cpu/nomad/a1.web/cpu.shares"), "2");
        assert_eq!(read("cpuset/nomad/a1.web/cpuset.cpus"), "1");
    }

    #[test]
    fn stats_and_oom_kills_are_read_from_the_kernel_files() {
        let root = tempfile::tempdir().unwrap();
        let dirs: BTreeMap<String, PathBuf> = ["memory", "cpuacct", "cpu"]
            .iter()
            .map(|c| {
                let dir = root.path().join(c);
                std::fs::create_dir_all(&dir).unwrap();
                (c.to_string(), dir)
            })
            .collect();
        std::fs::write(
            dirs["memory"].join("memory.stat"),
            "cache 4096\nrss 8192\nmapped_file 0\nswap 0\n",
        )
        .unwrap();
        std::fs::write(dirs["memory"].join("memory.usage_in_bytes"), "12288\n").unwrap();
        std::fs::write(
            dirs["memory"].join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        std::fs::write(dirs["cpuacct"].join("cpuacct.usage"), "1500000000\n").unwrap();
        std::fs::write(
            dirs["cpuacct"].join("cpuacct.stat"),
            "user 100\nsystem 50\n",
        )
        .unwrap();
        std::fs::write(
            dirs["cpu"].join("cpu.stat"),
            "nr_periods 10\nnr_throttled 3\nthrottled_time 900\n",
        )
        .unwrap();
        let stats = stats(&dirs);
        assert_eq!((stats.rss, stats.cache, stats.usage), (8192, 4096, 12288));
        assert_eq!(stats.cpu_total_ns, 1_500_000_000);
        assert_eq!(stats.cpu_user_ns, 100 * (1_000_000_000 / clock_ticks()));
        assert_eq!((stats.throttled_periods, stats.throttled_ns), (3, 900));
        assert_eq!(oom_kills(&dirs["memory"]), 2);
    }
}
