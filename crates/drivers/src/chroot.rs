//! The filesystem an `exec` task sees: its task directory as `/`, with the host's
//! `chroot_env` directories bind-mounted read-only, the shared `alloc/` directory, a
//! private `secrets/` tmpfs, a fresh `/proc` and a minimal `/dev`.
//!
//! Nomad hard-links (or copies) the `chroot_env` into the task directory; Caravan bind
//! mounts it instead, inside the task's own mount namespace: nothing is copied, and the
//! mounts vanish with the namespace, so the host never sees them.

use std::path::{Component, Path, PathBuf};

/// Nomad's default `chroot_env` (host path → path in the chroot). Entries whose host
/// path does not exist are skipped.
pub const DEFAULT_CHROOT_ENV: &[(&str, &str)] = &[
    ("/bin", "/bin"),
    ("/etc", "/etc"),
    ("/lib", "/lib"),
    ("/lib32", "/lib32"),
    ("/lib64", "/lib64"),
    ("/run/resolvconf", "/run/resolvconf"),
    ("/run/systemd/resolve", "/run/systemd/resolve"),
    ("/sbin", "/sbin"),
    ("/usr", "/usr"),
];

/// Host devices bound into the task's `/dev`.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// `chroot_env` as (host path, path in the chroot) pairs, defaults when `None`.
pub fn chroot_env(custom: Option<&[(String, String)]>) -> Vec<(PathBuf, PathBuf)> {
    match custom {
        Some(entries) => entries
            .iter()
            .map(|(host, inside)| (PathBuf::from(host), PathBuf::from(inside)))
            .collect(),
        None => DEFAULT_CHROOT_ENV
            .iter()
            .map(|(host, inside)| (PathBuf::from(host), PathBuf::from(inside)))
            .collect(),
    }
}

/// Where a path inside the chroot is on the host: under the `chroot_env` entry that
/// holds it (the longest match), else in the task directory.
pub fn host_path(task_dir: &Path, env: &[(PathBuf, PathBuf)], inside: &Path) -> PathBuf {
    let best = env
        .iter()
        .filter_map(|(host, dest)| {
            let rest = inside.strip_prefix(dest).ok()?;
            Some((dest.components().count(), host.join(rest)))
        })
        .max_by_key(|(depth, _)| *depth);
    match best {
        Some((_, path)) => path,
        None => task_dir.join(inside.strip_prefix("/").unwrap_or(inside)),
    }
}

/// A path with `.` and `..` folded, so `/local/../../etc` cannot climb out of `/`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Finds the program an `exec` task runs, as Nomad's executor does, but in the chroot:
/// `local/<command>`, then `<command>` relative to the task directory (absolute paths
/// are already in the chroot), then a `PATH`-style search of `/usr/local/bin:/usr/bin:/bin`
/// for a bare name. Returns the path inside the chroot.
pub fn resolve_command(
    command: &str,
    task_dir: &Path,
    env: &[(PathBuf, PathBuf)],
) -> Result<PathBuf, String> {
    let exists = |inside: &Path| host_path(task_dir, env, inside).is_file();
    let candidates = if Path::new(command).is_absolute() {
        vec![normalize(Path::new(command))]
    } else {
        vec![
            normalize(&Path::new("/local").join(command)),
            normalize(&Path::new("/").join(command)),
        ]
    };
    if let Some(found) = candidates.iter().find(|c| exists(c)) {
        return Ok(found.clone());
    }
    if command.contains('/') {
        return Err(format!(
            "file {command} not found under path {}",
            task_dir.display()
        ));
    }
    // Nomad searches a fixed PATH inside the chroot, not the agent's.
    for dir in ["/usr/local/bin", "/usr/bin", "/bin"] {
        let inside = Path::new(dir).join(command);
        if exists(&inside) {
            return Ok(inside);
        }
    }
    Err(format!(
        "file {command} not found under path {}",
        task_dir.display()
    ))
}

/// One step of building the task's root, run by the task's init inside its own mount
/// namespace (targets are host paths under the task directory, before `pivot_root`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MountStep {
    /// `mount --bind` (recursive), then a read-only remount when asked.
    Bind {
        source: PathBuf,
        target: PathBuf,
        read_only: bool,
    },
    /// A tmpfs with the given options (`mode=0700,size=1m,...`).
    Tmpfs {
        target: PathBuf,
        options: String,
        flags: libc::c_ulong,
    },
    /// A `proc` filesystem for the task's PID namespace.
    Proc { target: PathBuf },
    /// An empty file, as a mount point for a device.
    File { path: PathBuf },
    /// A directory.
    Dir { path: PathBuf, mode: u32 },
    /// A symlink (`/dev/fd` → `/proc/self/fd`).
    Symlink { target: PathBuf, link: PathBuf },
}

/// The binds of the task's host volumes: each host directory at its destination,
/// which is a path inside the chroot (relative ones from its root, as Nomad's
/// executor takes them) and may not leave it.
pub fn volume_binds(
    task_dir: &Path,
    mounts: &[crate::TaskMount],
) -> Result<Vec<MountStep>, crate::host_path::HostPathError> {
    mounts
        .iter()
        .map(|mount| {
            Ok(MountStep::Bind {
                source: mount.host_path.clone(),
                target: crate::host_path::join_beneath(task_dir, &mount.task_path)?,
                read_only: mount.read_only,
            })
        })
        .collect()
}

/// Everything the task's root needs, in order: the `chroot_env`, `/alloc`, then
/// `volumes` ([`volume_binds`]) over them, then `/secrets`, `/proc` and `/dev`.
/// `uid`/`gid` own the secrets tmpfs.
pub fn mount_plan(
    task_dir: &Path,
    alloc_dir: &Path,
    env: &[(PathBuf, PathBuf)],
    volumes: Vec<MountStep>,
    uid: u32,
    gid: u32,
    secrets_size_mb: u64,
) -> Vec<MountStep> {
    let inside = |path: &str| task_dir.join(path.trim_start_matches('/'));
    let mut steps = Vec::new();
    // Shortest destinations first, so `/run/resolvconf` lands on top of an earlier `/run`.
    let mut env: Vec<&(PathBuf, PathBuf)> = env.iter().filter(|(host, _)| host.exists()).collect();
    env.sort_by_key(|(_, dest)| dest.components().count());
    for (host, dest) in env {
        steps.push(MountStep::Bind {
            source: host.clone(),
            target: task_dir.join(dest.strip_prefix("/").unwrap_or(dest)),
            read_only: true,
        });
    }
    steps.push(MountStep::Bind {
        source: alloc_dir.to_path_buf(),
        target: inside("alloc"),
        read_only: false,
    });
    steps.extend(volumes);
    steps.push(MountStep::Tmpfs {
        target: inside("secrets"),
        options: format!("mode=0700,uid={uid},gid={gid},size={secrets_size_mb}m"),
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
    });
    steps.push(MountStep::Proc {
        target: inside("proc"),
    });
    steps.push(MountStep::Tmpfs {
        target: inside("dev"),
        options: "mode=0755,size=64k".into(),
        flags: libc::MS_NOSUID | libc::MS_NOEXEC,
    });
    for device in DEVICES {
        let target = inside("dev").join(device);
        steps.push(MountStep::File {
            path: target.clone(),
        });
        steps.push(MountStep::Bind {
            source: Path::new("/dev").join(device),
            target,
            read_only: false,
        });
    }
    steps.push(MountStep::Dir {
        path: inside("dev/shm"),
        mode: 0o1777,
    });
    steps.push(MountStep::Tmpfs {
        target: inside("dev/shm"),
        options: "mode=1777,size=64m".into(),
        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
    });
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        steps.push(MountStep::Symlink {
            target: PathBuf::from(target),
            link: inside("dev").join(name),
        });
    }
    steps
}

/// Creates, on the host, the mount points the plan needs inside the task directory
/// (empty directories, or empty files for file binds). Done by the executor as root
/// before the task's namespaces exist.
pub fn create_mount_points(task_dir: &Path, steps: &[MountStep]) -> std::io::Result<()> {
    let dev = task_dir.join("dev");
    for step in steps {
        let (target, file) = match step {
            MountStep::Bind { source, target, .. } => (target, source.is_file()),
            MountStep::Tmpfs { target, .. } | MountStep::Proc { target } => (target, false),
            MountStep::File { .. } | MountStep::Dir { .. } | MountStep::Symlink { .. } => {
                continue;
            }
        };
        // Everything under /dev lives on the /dev tmpfs, made inside the namespace.
        if target.starts_with(&dev) && *target != dev {
            continue;
        }
        if file {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if !target.exists() {
                std::fs::File::create(target)?;
            }
        } else {
            std::fs::create_dir_all(target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(PathBuf, PathBuf)> {
        vec![
            (PathBuf::from("/usr"), PathBuf::from("/usr")),
            (PathBuf::from("/bin"), PathBuf::from("/bin")),
            (
                PathBuf::from("/opt/tools"),
                PathBuf::from("/usr/local/tools"),
            ),
        ]
    }

    #[test]
    fn host_path_maps_chroot_env_entries_and_the_task_dir() {
        let task = Path::new("/data/alloc/a1/web");
        let cases = [
            ("/bin/bash", "/bin/bash"),
            ("/usr/bin/env", "/usr/bin/env"),
            ("/usr/local/tools/x", "/opt/tools/x"),
            ("/local/run.sh", "/data/alloc/a1/web/local/run.sh"),
            ("/srv/marker", "/data/alloc/a1/web/srv/marker"),
        ];
        for (inside, host) in cases {
            assert_eq!(
                host_path(task, &env(), Path::new(inside)),
                PathBuf::from(host),
                "{inside}"
            );
        }
    }

    #[test]
    fn commands_resolve_inside_the_chroot_like_nomad() {
        let dir = tempfile::tempdir().unwrap();
        let task = dir.path();
        std::fs::create_dir_all(task.join("local")).unwrap();
        std::fs::write(task.join("local/run.sh"), "#!/bin/sh\n").unwrap();
        let env = chroot_env(None);
        assert_eq!(
            resolve_command("run.sh", task, &env).unwrap(),
            PathBuf::from("/local/run.sh")
        );
        assert_eq!(
            resolve_command("local/run.sh", task, &env).unwrap(),
            PathBuf::from("/local/run.sh")
        );
        assert_eq!(
            resolve_command("/bin/sh", task, &env).unwrap(),
            PathBuf::from("/bin/sh")
        );
        // A bare name is looked up in the chroot's PATH.
        let sh = resolve_command("sh", task, &env).unwrap();
        assert!(sh.ends_with("sh") && sh.is_absolute(), "{}", sh.display());
        // On the host but outside the chroot: not found.
        let outside = task.join("outside");
        std::fs::write(&outside, "").unwrap();
        let error = resolve_command(outside.to_str().unwrap(), task, &env).unwrap_err();
        assert!(error.contains("not found under path"), "{error}");
        let error = resolve_command("no-such-program-anywhere", task, &env).unwrap_err();
        assert!(error.contains("not found"), "{error}");
        // `..` cannot climb out of the chroot.
        assert!(
            resolve_command("../../../../bin/sh", task, &env)
                .is_ok_and(|p| p == Path::new("/bin/sh"))
        );
    }

    #[test]
    fn the_plan_mounts_env_read_only_then_alloc_secrets_proc_dev() {
        let task = Path::new("/data/alloc/a1/web");
        let env = vec![(PathBuf::from("/usr"), PathBuf::from("/usr"))];
        let volumes = volume_binds(
            task,
            &[crate::TaskMount {
                host_path: "/srv/data".into(),
                task_path: "/data/../data".into(),
                read_only: true,
            }],
        )
        .unwrap();
        let plan = mount_plan(
            task,
            Path::new("/data/alloc/a1/alloc"),
            &env,
            volumes,
            65534,
            65534,
            1,
        );
        assert_eq!(
            plan[0],
            MountStep::Bind {
                source: "/usr".into(),
                target: "/data/alloc/a1/web/usr".into(),
                read_only: true
            }
        );
        assert!(plan.contains(&MountStep::Bind {
            source: "/data/alloc/a1/alloc".into(),
            target: "/data/alloc/a1/web/alloc".into(),
            read_only: false
        }));
        let volume = plan
            .iter()
            .position(|s| {
                *s == MountStep::Bind {
                    source: "/srv/data".into(),
                    target: "/data/alloc/a1/web/data".into(),
                    read_only: true,
                }
            })
            .expect("the host volume is bound");
        let alloc = plan
            .iter()
            .position(|s| matches!(s, MountStep::Bind { target, .. } if target.ends_with("alloc")))
            .unwrap();
        assert!(alloc < volume, "volumes go over /alloc and the chroot_env");
        assert!(
            volume_binds(
                task,
                &[crate::TaskMount {
                    host_path: "/srv/data".into(),
                    task_path: "../../etc".into(),
                    read_only: false,
                }]
            )
            .is_err(),
            "a destination may not leave the chroot"
        );
        assert!(plan.iter().any(|s| matches!(s, MountStep::Tmpfs { target, options, .. }
            if target.ends_with("secrets") && options.contains("mode=0700") && options.contains("uid=65534"))));
        assert!(plan.contains(&MountStep::Proc {
            target: "/data/alloc/a1/web/proc".into()
        }));
        assert!(plan.contains(&MountStep::Bind {
            source: "/dev/null".into(),
            target: "/data/alloc/a1/web/dev/null".into(),
            read_only: false
        }));
    }
}
