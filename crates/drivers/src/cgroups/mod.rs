//! Task cgroups, v1 and v2 behind one interface (Nomad's layout):
//!
//! - v1: one directory per controller, `/sys/fs/cgroup/<controller>/nomad/<alloc>.<task>`
//!   for `memory`, `cpu`, `cpuacct`, `cpuset`, `pids` and `freezer`;
//! - v2: `/sys/fs/cgroup/nomad.slice/<alloc>.<task>.scope`.
//!
//! The driver creates the cgroup and writes its limits ([`Hierarchy::create`]); the
//! task's init process joins it before anything else runs ([`TaskCgroup::procs_files`]);
//! the executor kills whatever is left in it and removes it ([`TaskCgroup::destroy`]).
//! A cgroup is plain data ([`TaskCgroup`] is serialized into the executor's spec), so an
//! agent that restarts finds it again.

pub mod v1;
pub mod v2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Which cgroup API the host offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

/// Why no cgroup could be created or used.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No usable hierarchy is mounted.
    #[error("Failed to discover cgroup mount point")]
    NoMount,
    /// A cgroup file could not be written.
    #[error("cgroup {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The cgroup's name could not be one directory under Nomad's parent cgroup.
    #[error("cgroup name refused: {0}")]
    Name(#[from] crate::host_path::HostPathError),
}

/// `statfs` magic numbers of the cgroup filesystems (`linux/magic.h`).
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Whether `dir` is a directory of a mounted cgroup filesystem: what is killed and
/// removed must be a real cgroup, never a plain directory that happens to hold a file
/// named `cgroup.procs`.
pub fn is_cgroup_dir(dir: &Path) -> bool {
    nix::sys::statfs::statfs(dir).is_ok_and(|fs| {
        #[allow(clippy::unnecessary_cast)] // c_long is i32 on 32-bit targets
        let kind = fs.filesystem_type().0 as i64;
        kind == CGROUP_SUPER_MAGIC || kind == CGROUP2_SUPER_MAGIC
    })
}

/// Whether a PID read from a cgroup may be killed: a real process (never 0 or negative,
/// which `kill(2)` reads as whole process groups), not the caller itself and not a member
/// of the caller's own process group (the agent, or the executor).
pub fn killable(pid: i32) -> bool {
    if pid <= 0 || pid == std::process::id() as i32 {
        return false;
    }
    // SAFETY: getpgid and getpgrp take and return plain integers.
    let (group, own_group) = unsafe { (libc::getpgid(pid), libc::getpgrp()) };
    group != own_group
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The mounted cgroup hierarchy this host offers to tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    pub version: CgroupVersion,
    /// v1: each controller's mount point; v2: `"unified"` and the cgroup2 mount point.
    pub mounts: BTreeMap<String, PathBuf>,
}

/// v1 controllers a task cgroup needs; without them the exec driver is not usable.
pub const V1_REQUIRED: &[&str] = &["memory", "cpu", "pids", "freezer"];
/// v1 controllers used when mounted (cpu accounting for stats, core pinning, device
/// access).
pub const V1_OPTIONAL: &[&str] = &["cpuacct", "cpuset", "devices"];
/// v2 controllers a task cgroup needs.
pub const V2_REQUIRED: &[&str] = &["memory", "cpu", "pids"];

/// The limits of one task, from its `resources` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupResources {
    /// Hard limit: `memory` MB, or `memory_max` MB when oversubscription set it.
    pub memory_bytes: u64,
    /// Soft limit (`memory` MB) when `memory_max` is the hard one.
    pub memory_soft_bytes: Option<u64>,
    /// `cpu` MHz; v1 `cpu.shares`, converted for v2 `cpu.weight`.
    pub cpu_shares: u64,
    /// `cores` pinning: a cpuset list such as `0-1`.
    pub cpuset_cpus: Option<String>,
    /// Most processes the task may have at once.
    pub pids_max: u64,
}

/// Nomad clamps `cpu.shares` to what the kernel accepts.
pub fn clamp_shares(shares: u64) -> u64 {
    shares.clamp(2, 262_144)
}

/// One task's cgroup: where it is, for joining, stats, kill and removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCgroup {
    pub version: CgroupVersion,
    /// v1: controller → the task's directory in it; v2: `"unified"` → the scope directory.
    pub dirs: BTreeMap<String, PathBuf>,
}

/// Memory and CPU as the cgroup accounts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupStats {
    pub rss: u64,
    pub cache: u64,
    pub swap: u64,
    pub mapped_file: u64,
    pub usage: u64,
    pub max_usage: u64,
    /// Total CPU time in nanoseconds, and its user and system parts.
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_system_ns: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
}

impl Hierarchy {
    /// Reads `/proc/self/mountinfo` and picks the hierarchy to use: cgroup v2 when its
    /// mount offers the memory, cpu and pids controllers, else v1 when its controllers are
    /// mounted (a hybrid host like this one has a cgroup2 mount with almost nothing in it).
    pub fn discover() -> Result<Hierarchy, CgroupError> {
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(|_| CgroupError::NoMount)?;
        let controllers_of = |mount: &Path| {
            std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default()
        };
        parse_mountinfo(&mountinfo, controllers_of).ok_or(CgroupError::NoMount)
    }

    /// Creates the cgroup `name` (`<alloc>.<task>`) with `resources` as its limits. A
    /// cgroup of that name left by an earlier run is emptied and reused.
    pub fn create(
        &self,
        name: &str,
        resources: &CgroupResources,
    ) -> Result<TaskCgroup, CgroupError> {
        match self.version {
            CgroupVersion::V1 => v1::create(&self.mounts, name, resources),
            CgroupVersion::V2 => {
                let mount = self.mounts.get("unified").ok_or(CgroupError::NoMount)?;
                v2::create(mount, name, resources)
            }
        }
    }
}

impl Hierarchy {
    /// A cgroup that only holds a task's processes, with no limits (`raw_exec`, as
    /// Nomad's): v1's freezer, v2's scope. A task that escapes its process group
    /// (`setsid`, a double fork) stays in it, and is killed with the rest.
    pub fn create_tracking(&self, name: &str) -> Result<TaskCgroup, CgroupError> {
        match self.version {
            CgroupVersion::V1 => v1::create_freezer(&self.mounts, name),
            CgroupVersion::V2 => {
                let mount = self.mounts.get("unified").ok_or(CgroupError::NoMount)?;
                v2::create_scope(mount, name)
            }
        }
    }
}

/// Picks the hierarchy from mountinfo text; `controllers_of` reads a cgroup2 mount's
/// `cgroup.controllers`.
pub fn parse_mountinfo(
    mountinfo: &str,
    controllers_of: impl Fn(&Path) -> String,
) -> Option<Hierarchy> {
    let mut v1 = BTreeMap::new();
    let mut v2: Option<PathBuf> = None;
    for line in mountinfo.lines() {
        // `id parent major:minor root mount-point options [optional...] - fstype source super-options`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mount_point), Some(fstype)) =
            (left.get(3), left.get(4), right.first())
        else {
            continue;
        };
        // A bind of a sub-cgroup (a container's view) is not a hierarchy root.
        if *root != "/" {
            continue;
        }
        let mount_point = PathBuf::from(unescape_mount_path(mount_point));
        match *fstype {
            "cgroup2" => {
                let controllers = controllers_of(&mount_point);
                let offered: Vec<&str> = controllers.split_whitespace().collect();
                if V2_REQUIRED.iter().all(|c| offered.contains(c)) && v2.is_none() {
                    v2 = Some(mount_point);
                }
            }
            "cgroup" => {
                let options = right.get(2).copied().unwrap_or_default();
                for option in options.split(',') {
                    if V1_REQUIRED.contains(&option) || V1_OPTIONAL.contains(&option) {
                        v1.entry(option.to_string())
                            .or_insert_with(|| mount_point.clone());
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(mount) = v2 {
        return Some(Hierarchy {
            version: CgroupVersion::V2,
            mounts: [("unified".to_string(), mount)].into(),
        });
    }
    if V1_REQUIRED.iter().all(|c| v1.contains_key(*c)) {
        return Some(Hierarchy {
            version: CgroupVersion::V1,
            mounts: v1,
        });
    }
    None
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape_mount_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let code = rest.get(pos + 1..pos + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[pos + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl TaskCgroup {
    /// The `cgroup.procs` file of every directory: writing `0` to each moves the writer
    /// into the task's cgroup (what the task's init does first).
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .values()
            .map(|dir| dir.join("cgroup.procs"))
            .collect()
    }

    /// Whether the cgroup accounts memory and CPU itself (v2, or v1 with the memory
    /// controller); a v1 freezer-only cgroup (raw_exec's) only lists processes.
    pub fn accounts_usage(&self) -> bool {
        self.version == CgroupVersion::V2 || self.dirs.contains_key("memory")
    }

    /// Whether the cgroup still exists.
    pub fn exists(&self) -> bool {
        self.dirs.values().any(|dir| dir.exists())
    }

    /// The directory where the processes are listed and killed from: v1's freezer (or
    /// any controller), v2's scope.
    fn main_dir(&self) -> Option<&Path> {
        let key = match self.version {
            CgroupVersion::V1 => "freezer",
            CgroupVersion::V2 => "unified",
        };
        self.dirs
            .get(key)
            .or_else(|| self.dirs.values().next())
            .map(PathBuf::as_path)
    }

    /// Host PIDs of the processes in the cgroup that may be killed ([`killable`]); none
    /// when its directory is not a cgroup.
    pub fn pids(&self) -> Vec<i32> {
        let Some(dir) = self.main_dir().filter(|dir| is_cgroup_dir(dir)) else {
            return Vec::new();
        };
        read_pids(&dir.join("cgroup.procs"))
    }

    /// Kills every process in the cgroup so that none can fork away meanwhile (v1: freeze,
    /// SIGKILL each, thaw; v2: `cgroup.kill`), and waits until it is empty (5 s at most).
    /// A directory that is not a cgroup is left alone.
    pub fn kill_all(&self) {
        let Some(dir) = self.main_dir() else { return };
        if !is_cgroup_dir(dir) {
            if dir.exists() {
                tracing::error!(dir = %dir.display(), "refusing to kill the processes of a directory that is not a cgroup");
            }
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.pids().is_empty() && Instant::now() < deadline {
            match self.version {
                CgroupVersion::V1 => v1::freeze_and_kill(dir, &self.pids()),
                CgroupVersion::V2 => v2::kill(dir, &self.pids()),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills what is left and removes the cgroup's directories. Removing can fail while
    /// the kernel still reaps the last processes, so it retries for a few seconds. Only
    /// cgroup directories are removed.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        self.kill_all();
        let deadline = Instant::now() + Duration::from_secs(5);
        for dir in self.dirs.values().filter(|dir| is_cgroup_dir(dir)) {
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => break,
                    Err(error) if Instant::now() >= deadline => {
                        return Err(io_error(dir)(error));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        Ok(())
    }

    /// How many processes the kernel's OOM killer killed in the cgroup.
    pub fn oom_kills(&self) -> u64 {
        match self.version {
            CgroupVersion::V1 => self
                .dirs
                .get("memory")
                .map(|dir| v1::oom_kills(dir))
                .unwrap_or(0),
            CgroupVersion::V2 => self
                .dirs
                .get("unified")
                .map(|dir| v2::oom_kills(dir))
                .unwrap_or(0),
        }
    }

    /// The memory limit in force, in bytes (`None` for "max").
    pub fn memory_limit(&self) -> Option<u64> {
        match self.version {
            CgroupVersion::V1 => read_u64(&self.dirs.get("memory")?.join("memory.limit_in_bytes")),
            CgroupVersion::V2 => read_u64(&self.dirs.get("unified")?.join("memory.max")),
        }
    }

    /// Memory and CPU usage.
    pub fn stats(&self) -> CgroupStats {
        match self.version {
            CgroupVersion::V1 => v1::stats(&self.dirs),
            CgroupVersion::V2 => self
                .dirs
                .get("unified")
                .map(|dir| v2::stats(dir))
                .unwrap_or_default(),
        }
    }
}

/// The killable PIDs listed in a `cgroup.procs` file.
pub(crate) fn read_pids(procs: &Path) -> Vec<i32> {
    std::fs::read_to_string(procs)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .filter(|pid| killable(*pid))
        .collect()
}

/// A number from a one-line cgroup file (`None` when missing or `max`).
pub(crate) fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
pub(crate) fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

pub(crate) fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io_error(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn a_hybrid_host_with_an_empty_cgroup2_mount_uses_v1() {
        let hierarchy = parse_mountinfo(HYBRID, |_| "hugetlb\n".into()).unwrap();
        assert_eq!(hierarchy.version, CgroupVersion::V1);
        assert_eq!(
            hierarchy.mounts["memory"],
            PathBuf::from("/sys/fs/cgroup/memory")
        );
        assert_eq!(
            hierarchy.mounts["cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpuacct")
        );
    }

    #[test]
    fn a_unified_host_uses_v2() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let hierarchy =
            parse_mountinfo(text, |_| "cpuset cpu io memory hugetlb pids rdma".into()).unwrap();
        assert_eq!(hierarchy.version, CgroupVersion::V2);
        assert_eq!(hierarchy.mounts["unified"], PathBuf::from("/sys/fs/cgroup"));
    }

    #[test]
    fn combined_v1_mounts_serve_each_controller() {
        let text = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
";
        let hierarchy = parse_mountinfo(text, |_| String::new()).unwrap();
        assert_eq!(
            hierarchy.mounts["cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
    }

    #[test]
    fn no_usable_hierarchy_is_none() {
        let missing_freezer = HYBRID.replace("rw,freezer", "rw,devices");
        assert!(parse_mountinfo(&missing_freezer, |_| String::new()).is_none());
        assert!(parse_mountinfo("", |_| String::new()).is_none());
        // A container's bind of its own sub-cgroup is not a hierarchy root.
        let nested = "30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert!(parse_mountinfo(nested, |_| "cpu memory pids".into()).is_none());
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/a\040b"), "/a b");
        assert_eq!(unescape_mount_path(r"/plain"), "/plain");
    }

    #[test]
    fn shares_are_clamped_like_nomad() {
        assert_eq!(clamp_shares(0), 2);
        assert_eq!(clamp_shares(500), 500);
        assert_eq!(clamp_shares(1_000_000), 262_144);
    }
}
