//! `exec`: runs a command isolated like Nomad's exec driver: its own mount, PID, IPC
//! and UTS namespaces, the task directory as its root with the host's `chroot_env`
//! mounted read-only, a cgroup enforcing `resources`, an unprivileged user, a bounded
//! capability set and `no_new_privs`.
//!
//! It reuses the executor of `raw_exec` ([`crate::executor`]): the driver resolves
//! everything that can fail early (command in the chroot, user, cgroup), writes it into
//! the executor's spec, and the executor does the privileged part
//! ([`crate::container`]). Tasks therefore survive agent restarts and are re-attached
//! exactly like `raw_exec` tasks.
//!
//! Engine: direct `libc`/`nix` calls rather than youki's `libcontainer`. The executor
//! already supervises, records and re-attaches tasks; what `exec` adds is about ten
//! syscalls (unshare, mount, pivot_root, sethostname, prctl, setgroups/setgid/setuid)
//! and a few cgroup files. `libcontainer` would bring ~100 crates (a second `nix`,
//! ~85 s of build), its own state directory and init protocol next to ours, and leaves
//! empty parent cgroups behind.

use std::path::{Path, PathBuf};

use caravan_structs::DriverInfo;
use serde::Deserialize;

use crate::cgroups::{CgroupResources, Hierarchy};
use crate::chroot;
use crate::container::Isolation;
use crate::executor::ExecutorCommand;
use crate::raw_exec::{prepare_executor_spec, recover_with_cgroup, start_executor};
use crate::{DriverError, TaskLaunch, TaskProcess};

/// Nomad's default capabilities for exec tasks (Docker's default set without
/// `net_raw`): both the default of a task and, as `allow_caps`, the most it may add to.
pub const DEFAULT_CAPS: &[&str] = &[
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "mknod",
    "net_bind_service",
    "setfcap",
    "setgid",
    "setpcap",
    "setuid",
    "sys_chroot",
];

/// Linux capability names, by number (`capability.h`).
const CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Default `pids.max` of a task's cgroup (`plugin "exec" { config { pids_limit = N } }`).
pub const DEFAULT_PIDS_LIMIT: u64 = 4096;
/// Nomad's secrets tmpfs size.
const SECRETS_SIZE_MB: u64 = 1;

/// `plugin "exec" { config { ... } }` plus the client's `chroot_env`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecConfig {
    /// `private` (default) or `host`: the PID namespace when a task does not say.
    pub default_pid_mode: String,
    /// `private` (default) or `host`: the IPC namespace when a task does not say.
    pub default_ipc_mode: String,
    /// The capabilities tasks may have (Nomad's `allow_caps`).
    pub allow_caps: Vec<String>,
    /// Accepted for Nomad compatibility; pivot_root falls back to chroot by itself.
    pub no_pivot_root: bool,
    /// `pids.max` of every task cgroup (Caravan's; Nomad leaves it unlimited).
    pub pids_limit: u64,
    /// The client's `chroot_env` (host path → path in the chroot); Nomad's default
    /// when unset.
    pub chroot_env: Option<std::collections::BTreeMap<String, String>>,
}

impl Default for ExecConfig {
    fn default() -> Self {
        ExecConfig {
            default_pid_mode: "private".into(),
            default_ipc_mode: "private".into(),
            allow_caps: DEFAULT_CAPS.iter().map(|c| c.to_string()).collect(),
            no_pivot_root: false,
            pids_limit: DEFAULT_PIDS_LIMIT,
            chroot_env: None,
        }
    }
}

impl ExecConfig {
    /// Reads the plugin's `config` block (JSON, as the agent configuration keeps it).
    pub fn from_plugin_config(config: Option<&serde_json::Value>) -> Result<ExecConfig, String> {
        let Some(config) = config else {
            return Ok(ExecConfig::default());
        };
        let config: ExecConfig = serde_json::from_value(config.clone())
            .map_err(|e| format!("plugin \"exec\" config: {e}"))?;
        for (key, mode) in [
            ("default_pid_mode", &config.default_pid_mode),
            ("default_ipc_mode", &config.default_ipc_mode),
        ] {
            if mode != "private" && mode != "host" {
                return Err(format!(
                    "plugin \"exec\" config: {key} must be \"private\" or \"host\", got {mode:?}"
                ));
            }
        }
        for cap in &config.allow_caps {
            capability_number(cap).ok_or_else(|| {
                format!("plugin \"exec\" config: allow_caps: unknown capability {cap:?}")
            })?;
        }
        Ok(config)
    }
}

fn capability_number(name: &str) -> Option<u32> {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("cap_").unwrap_or(&name);
    CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .map(|n| n as u32)
}

/// Nomad's exec fingerprint: healthy only as root with a usable cgroup hierarchy.
pub fn fingerprint() -> DriverInfo {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    fingerprint_with(euid, Hierarchy::discover().ok().as_ref())
}

/// [`fingerprint`] on given facts. Nomad: not root is "undetected"; no cgroups is
/// detected but unhealthy. Either way the scheduler does not place exec tasks here.
pub fn fingerprint_with(euid: u32, hierarchy: Option<&Hierarchy>) -> DriverInfo {
    let (detected, healthy, description) = if !cfg!(target_os = "linux") {
        (false, false, "exec driver unsupported on client OS")
    } else if euid != 0 {
        (false, false, "Driver must run as root")
    } else if hierarchy.is_none() {
        (true, false, "Failed to discover cgroup mount point")
    } else {
        (true, true, "Healthy")
    };
    DriverInfo {
        detected,
        healthy,
        health_description: description.into(),
        ..DriverInfo::default()
    }
}

/// The `exec` driver.
#[derive(Debug, Clone)]
pub struct ExecDriver {
    executor: ExecutorCommand,
    config: ExecConfig,
    hierarchy: Option<Hierarchy>,
}

/// A task's `config` block, the keys `exec` reads beyond `command`/`args`/`work_dir`.
#[derive(Debug, Default)]
struct TaskIsolationConfig {
    pid_mode: Option<String>,
    ipc_mode: Option<String>,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
}

fn string_list(
    config: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Vec<String>, DriverError> {
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_string).ok_or_else(|| {
                    DriverError::InvalidConfig(format!("\"{key}\" must be a list of strings"))
                })
            })
            .collect(),
        Some(_) => Err(DriverError::InvalidConfig(format!(
            "\"{key}\" must be a list of strings"
        ))),
    }
}

fn mode(
    config: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<String>, DriverError> {
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(m)) if m == "private" || m == "host" => Ok(Some(m.clone())),
        Some(serde_json::Value::String(m)) if m.is_empty() => Ok(None),
        Some(other) => Err(DriverError::InvalidConfig(format!(
            "\"{key}\" must be \"private\" or \"host\", got {other}"
        ))),
    }
}

impl TaskIsolationConfig {
    fn read(config: &serde_json::Map<String, serde_json::Value>) -> Result<Self, DriverError> {
        Ok(TaskIsolationConfig {
            pid_mode: mode(config, "pid_mode")?,
            ipc_mode: mode(config, "ipc_mode")?,
            cap_add: string_list(config, "cap_add")?,
            cap_drop: string_list(config, "cap_drop")?,
        })
    }
}

/// Nomad's `tweakCapabilities`: the default set, plus `cap_add`, minus `cap_drop`
/// (`all` drops everything), which must stay within `allow_caps`.
pub fn task_capabilities(
    allow_caps: &[String],
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<u32>, DriverError> {
    let number = |name: &String| {
        capability_number(name)
            .ok_or_else(|| DriverError::InvalidConfig(format!("unknown capability {name:?}")))
    };
    let mut caps: Vec<u32> = DEFAULT_CAPS
        .iter()
        .filter_map(|c| capability_number(c))
        .collect();
    for cap in cap_add {
        if cap.eq_ignore_ascii_case("all") {
            caps = (0..CAPABILITIES.len() as u32).collect();
        } else {
            caps.push(number(cap)?);
        }
    }
    for cap in cap_drop {
        if cap.eq_ignore_ascii_case("all") {
            caps.clear();
        } else {
            let drop = number(cap)?;
            caps.retain(|c| *c != drop);
        }
    }
    caps.sort_unstable();
    caps.dedup();
    let allowed: Vec<u32> = allow_caps
        .iter()
        .filter_map(|c| capability_number(c))
        .collect();
    let denied: Vec<&str> = caps
        .iter()
        .filter(|c| !allowed.contains(c))
        .map(|c| CAPABILITIES[*c as usize])
        .collect();
    if !denied.is_empty() {
        return Err(DriverError::InvalidConfig(format!(
            "driver does not allow the following capabilities: {}",
            denied.join(", ")
        )));
    }
    Ok(caps)
}

/// The cgroup limits of a task: `memory` MB hard, or `memory_max` hard and `memory`
/// soft when oversubscription set a larger `memory_max`.
pub fn cgroup_resources(resources: &caravan_structs::Resources, pids_max: u64) -> CgroupResources {
    let mb = |v: i64| (v.max(0) as u64) << 20;
    let (hard, soft) = if resources.memory_max_mb > resources.memory_mb {
        (mb(resources.memory_max_mb), Some(mb(resources.memory_mb)))
    } else {
        (mb(resources.memory_mb), None)
    };
    CgroupResources {
        memory_bytes: hard,
        memory_soft_bytes: soft,
        cpu_shares: resources.cpu.max(0) as u64,
        // The scheduler does not reserve specific cores yet: `cores` is not pinned.
        cpuset_cpus: None,
        pids_max,
    }
}

/// A user's uid, primary gid and groups, by name or number.
fn resolve_user(name: &str) -> Result<(u32, u32, Vec<u32>), DriverError> {
    use nix::unistd::{User, getgrouplist};
    let found = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => User::from_name(name),
    };
    let user = match found {
        Ok(Some(user)) => user,
        Ok(None) => {
            return Err(DriverError::InvalidConfig(format!(
                "user {name:?} not found on this client"
            )));
        }
        Err(error) => {
            return Err(DriverError::InvalidConfig(format!(
                "looking up user {name:?}: {error}"
            )));
        }
    };
    let c_name = std::ffi::CString::new(user.name.clone())
        .map_err(|_| DriverError::InvalidConfig(format!("bad user name {name:?}")))?;
    let groups = getgrouplist(&c_name, user.gid)
        .map(|groups| groups.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![user.gid.as_raw()]);
    Ok((user.uid.as_raw(), user.gid.as_raw(), groups))
}

/// Nomad makes the directories a task writes to its own: `local/` belongs to the
/// task's user, the shared `alloc/` and `alloc/data` are world-writable. They get the
/// sticky bit too, so a task cannot rename or remove what it does not own (such as the
/// agent's `alloc/logs`, to put a symlink to a host directory in its place).
fn prepare_dirs(launch: &TaskLaunch, uid: u32, gid: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let local = launch.task_dir.join("local");
    std::fs::create_dir_all(&local)?;
    std::os::unix::fs::chown(&local, Some(uid), Some(gid))?;
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o777))?;
    for dir in [launch.alloc_dir.clone(), launch.alloc_dir.join("data")] {
        if dir.is_dir() {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777))?;
        }
    }
    Ok(())
}

impl ExecDriver {
    /// A driver that supervises its tasks with `executor`, configured by the plugin
    /// block; finds the cgroup hierarchy once.
    pub fn new(executor: ExecutorCommand, config: ExecConfig) -> ExecDriver {
        ExecDriver {
            executor,
            config,
            hierarchy: Hierarchy::discover().ok(),
        }
    }

    /// The driver's configuration.
    pub fn config(&self) -> &ExecConfig {
        &self.config
    }

    /// Starts the task isolated, under a new executor; returns once it runs.
    pub async fn start(&self, launch: &TaskLaunch) -> Result<TaskProcess, DriverError> {
        let hierarchy = self.hierarchy.as_ref().ok_or_else(|| {
            DriverError::InvalidConfig("Failed to discover cgroup mount point".into())
        })?;
        let task_config = TaskIsolationConfig::read(&launch.config)?;
        let capabilities = task_capabilities(
            &self.config.allow_caps,
            &task_config.cap_add,
            &task_config.cap_drop,
        )?;
        let custom: Option<Vec<(String, String)>> = self
            .config
            .chroot_env
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        let env = chroot::chroot_env(custom.as_deref());
        let command =
            chroot::resolve_command(&launch.command, &launch.task_dir, &env).map_err(|reason| {
                DriverError::CommandNotFound {
                    command: launch.command.clone(),
                    reason,
                }
            })?;
        let user = if launch.user.is_empty() {
            "nobody"
        } else {
            &launch.user
        };
        let (uid, gid, groups) = resolve_user(user)?;
        let setup_error = |what: &str, e: &dyn std::fmt::Display| DriverError::Executor {
            state_dir: launch.state_dir.display().to_string(),
            reason: format!("{what}: {e}"),
        };
        prepare_dirs(launch, uid, gid)
            .map_err(|e| setup_error("failed to prepare the task directory", &e))?;
        let mounts = chroot::mount_plan(
            &launch.task_dir,
            &launch.alloc_dir,
            &env,
            uid,
            gid,
            SECRETS_SIZE_MB,
        );
        chroot::create_mount_points(&launch.task_dir, &mounts)
            .map_err(|e| setup_error("failed to create mount points", &e))?;
        let cgroup = hierarchy
            .create(
                &launch.cgroup_name(),
                &cgroup_resources(&launch.resources, self.config.pids_limit),
            )
            .map_err(|e| setup_error("failed to create the task's cgroup", &e))?;
        let isolation = Isolation {
            task_dir: launch.task_dir.clone(),
            mounts,
            hostname: caravan_structs::short_id(&launch.alloc_id).to_string(),
            uid,
            gid,
            groups,
            pid_namespace: task_config
                .pid_mode
                .as_deref()
                .unwrap_or(&self.config.default_pid_mode)
                == "private",
            // Nomad shares the host's network unless the group asks otherwise; Caravan
            // isolates a task unless its group has a `network` block in host mode, so
            // that no exec task reaches the agent's loopback API by default.
            net_namespace: launch.network_mode.as_deref() != Some("host"),
            ipc_namespace: task_config
                .ipc_mode
                .as_deref()
                .unwrap_or(&self.config.default_ipc_mode)
                == "private",
            capabilities,
        };
        let mut spec = prepare_executor_spec(&self.executor, launch, command.clone())?;
        // Inside the chroot: `work_dir` is a path there; Nomad starts tasks in `/`.
        spec.cwd = launch
            .work_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/"));
        spec.isolation = Some(isolation);
        spec.cgroup = Some(cgroup.clone());
        match start_executor(&self.executor, &spec, &command).await {
            Ok(process) => Ok(process.with_cgroup(cgroup)),
            Err(error) => {
                // The executor removes the cgroup itself once it runs; not if it never did.
                let _ = cgroup.destroy();
                Err(error)
            }
        }
    }

    /// Re-attaches to a task after an agent restart (see [`crate::RawExecDriver::recover`]).
    pub fn recover(&self, state_dir: &Path) -> Result<TaskProcess, DriverError> {
        recover_with_cgroup(&self.executor, state_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::CgroupVersion;

    #[test]
    fn fingerprint_needs_root_then_cgroups() {
        let hierarchy = Hierarchy {
            version: CgroupVersion::V1,
            mounts: Default::default(),
        };
        let cases = [
            (
                1000,
                Some(&hierarchy),
                false,
                false,
                "Driver must run as root",
            ),
            (
                0,
                None,
                true,
                false,
                "Failed to discover cgroup mount point",
            ),
            (0, Some(&hierarchy), true, true, "Healthy"),
        ];
        for (euid, hierarchy, detected, healthy, description) in cases {
            let info = fingerprint_with(euid, hierarchy);
            assert_eq!(
                (
                    info.detected,
                    info.healthy,
                    info.health_description.as_str()
                ),
                (detected, healthy, description)
            );
        }
    }

    #[test]
    fn plugin_config_defaults_and_errors() {
        assert_eq!(
            ExecConfig::from_plugin_config(None).unwrap(),
            ExecConfig::default()
        );
        let config = ExecConfig::from_plugin_config(Some(&serde_json::json!({
            "pids_limit": 64, "default_pid_mode": "host"
        })))
        .unwrap();
        assert_eq!(
            (config.pids_limit, config.default_pid_mode.as_str()),
            (64, "host")
        );
        for bad in [
            serde_json::json!({"default_ipc_mode": "shared"}),
            serde_json::json!({"allow_caps": ["not_a_cap"]}),
            serde_json::json!({"no_such_key": 1}),
        ] {
            assert!(ExecConfig::from_plugin_config(Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn capabilities_follow_nomads_tweak_rules() {
        let allow: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
        let default = task_capabilities(&allow, &[], &[]).unwrap();
        assert_eq!(default.len(), DEFAULT_CAPS.len());
        assert!(
            !default.contains(&13),
            "net_raw is not in Nomad's default set"
        );
        let dropped = task_capabilities(&allow, &[], &["chown".into()]).unwrap();
        assert!(!dropped.contains(&0));
        assert!(
            task_capabilities(&allow, &[], &["all".into()])
                .unwrap()
                .is_empty()
        );
        let error = task_capabilities(&allow, &["sys_admin".into()], &[]).unwrap_err();
        assert!(error.to_string().contains("sys_admin"), "{error}");
    }

    #[test]
    fn memory_max_is_the_hard_limit_when_larger() {
        let mut resources = caravan_structs::Resources {
            memory_mb: 300,
            cpu: 500,
            ..Default::default()
        };
        let limits = cgroup_resources(&resources, 4096);
        assert_eq!(
            (
                limits.memory_bytes,
                limits.memory_soft_bytes,
                limits.cpu_shares
            ),
            (300 << 20, None, 500)
        );
        resources.memory_max_mb = 600;
        let limits = cgroup_resources(&resources, 4096);
        assert_eq!(
            (limits.memory_bytes, limits.memory_soft_bytes),
            (600 << 20, Some(300 << 20))
        );
    }
}
