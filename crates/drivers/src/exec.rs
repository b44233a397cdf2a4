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
use std::time::Duration;

use caravan_structs::DriverInfo;
use caravan_structs::driver_schema::{ConfigKey, ConfigKind, ConfigRule, DriverSchema};
use nix::sys::signal::Signal;
use serde::Deserialize;

use crate::cgroups::{CgroupResources, Hierarchy};
use crate::chroot;
use crate::container::Isolation;
use crate::driver::{DriverCapabilities, DriverFuture, FsIsolation};
use crate::executor::ExecutorCommand;
use crate::launch::{Program, WrittenSpec, blocking, prepare_executor_spec, start_prepared};
use crate::linux_caps::{DEFAULT_CAPS, capability_number, task_capabilities};
use crate::stats::Sample;
use crate::task_config::{self, NamespaceMode, decode, required_command};
use crate::{Driver, DriverError, ExitResult, TaskLaunch, TaskProcess};

/// The driver's name in job files.
pub const NAME: &str = "exec";

/// Nomad's exec task config (`drivers/exec/driver.go` taskConfigSpec).
pub const SCHEMA: DriverSchema = DriverSchema {
    keys: &[
        ConfigKey::required("command", ConfigKind::String),
        ConfigKey::optional("args", ConfigKind::StringList),
        ConfigKey::optional("pid_mode", ConfigKind::String)
            .with_rule(ConfigRule::OneOf(&["private", "host"])),
        ConfigKey::optional("ipc_mode", ConfigKind::String)
            .with_rule(ConfigRule::OneOf(&["private", "host"])),
        ConfigKey::optional("cap_add", ConfigKind::StringList),
        ConfigKey::optional("cap_drop", ConfigKind::StringList),
        ConfigKey::optional("work_dir", ConfigKind::String),
        ConfigKey::optional("oom_score_adj", ConfigKind::Number)
            .with_rule(ConfigRule::WholeNumber { min: 0, max: 1000 }),
        ConfigKey::optional("denied_envvars", ConfigKind::StringList),
    ],
};

/// An `exec` task's `config` block, decoded ([`SCHEMA`] lists the same keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecTaskConfig {
    /// The program, found inside the chroot.
    #[serde(default, deserialize_with = "task_config::string")]
    pub command: Option<String>,
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub args: Vec<String>,
    /// A PID namespace of its own or the host's; the plugin's `default_pid_mode` when
    /// unset.
    #[serde(default, deserialize_with = "task_config::namespace_mode")]
    pub pid_mode: Option<NamespaceMode>,
    /// As `pid_mode`, for IPC.
    #[serde(default, deserialize_with = "task_config::namespace_mode")]
    pub ipc_mode: Option<NamespaceMode>,
    /// Capabilities added to Nomad's default set (within the plugin's `allow_caps`).
    #[serde(default, deserialize_with = "task_config::string_list")]
    pub cap_add: Vec<String>,
    /// Capabilities taken out (`all` for every one).
    #[serde(default, deserialize_with = "task_config::string_list")]
    pub cap_drop: Vec<String>,
    /// Where the task starts, inside the chroot; `/` when unset.
    #[serde(default, deserialize_with = "task_config::string")]
    pub work_dir: Option<String>,
    /// 0 to 1000; 0 leaves the kernel's default.
    #[serde(default, deserialize_with = "task_config::oom_score_adj")]
    pub oom_score_adj: u16,
    /// Names (or `PREFIX*` / `*SUFFIX` patterns) taken out of the task's environment.
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub denied_envvars: Vec<String>,
}

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
        ExecConfig::from_named_plugin_config(NAME, config)
    }

    /// As [`ExecConfig::from_plugin_config`], for a driver that isolates its tasks as
    /// `exec` does (`java`): errors name its plugin block.
    pub fn from_named_plugin_config(
        plugin: &str,
        config: Option<&serde_json::Value>,
    ) -> Result<ExecConfig, String> {
        let Some(config) = config else {
            return Ok(ExecConfig::default());
        };
        let config: ExecConfig = serde_json::from_value(config.clone())
            .map_err(|e| format!("plugin \"{plugin}\" config: {e}"))?;
        for (key, mode) in [
            ("default_pid_mode", &config.default_pid_mode),
            ("default_ipc_mode", &config.default_ipc_mode),
        ] {
            if mode != "private" && mode != "host" {
                return Err(format!(
                    "plugin \"{plugin}\" config: {key} must be \"private\" or \"host\", got {mode:?}"
                ));
            }
        }
        for cap in &config.allow_caps {
            capability_number(cap).ok_or_else(|| {
                format!("plugin \"{plugin}\" config: allow_caps: unknown capability {cap:?}")
            })?;
        }
        Ok(config)
    }
}

/// Nomad's exec fingerprint on given facts: healthy only as root with a usable cgroup
/// hierarchy. Not root is "undetected"; no cgroups is detected but unhealthy. Either
/// way the scheduler does not place exec tasks here.
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

/// The `exec` driver.
#[derive(Debug, Clone)]
pub struct ExecDriver {
    executor: ExecutorCommand,
    /// The plugin block, or why it could not be read: the driver is then reported
    /// unhealthy and starts nothing (it still re-attaches to its tasks).
    config: Result<ExecConfig, String>,
    hierarchy: Option<Hierarchy>,
}

impl ExecDriver {
    /// A driver that supervises its tasks with `executor`, configured by the plugin
    /// block; finds the cgroup hierarchy once.
    pub fn new(executor: ExecutorCommand, config: ExecConfig) -> ExecDriver {
        ExecDriver::from_plugin_config(executor, Ok(config))
    }

    /// A driver from the plugin block as read ([`ExecConfig::from_plugin_config`]): a
    /// bad block makes an unhealthy driver rather than a failed agent.
    pub fn from_plugin_config(
        executor: ExecutorCommand,
        config: Result<ExecConfig, String>,
    ) -> ExecDriver {
        ExecDriver {
            executor,
            config,
            hierarchy: Hierarchy::discover().ok(),
        }
    }

    /// Starts the task isolated, under a new executor; returns once it runs.
    pub async fn start_task(
        &self,
        launch: &TaskLaunch,
        task_config: &ExecTaskConfig,
    ) -> Result<TaskProcess, DriverError> {
        let config = self
            .config
            .as_ref()
            .map_err(|_| DriverError::Unavailable { driver: NAME })?
            .clone();
        let hierarchy = self.hierarchy.clone().ok_or_else(|| {
            DriverError::InvalidConfig("Failed to discover cgroup mount point".into())
        })?;
        let command = required_command(&task_config.command)?.to_string();
        let capabilities = task_capabilities(
            &config.allow_caps,
            &task_config.cap_add,
            &task_config.cap_drop,
        )?;
        let executor = self.executor.clone();
        let (launch_copy, task_config) = (launch.clone(), task_config.clone());
        // Resolving the user (NSS), creating directories and the cgroup all block.
        let written = blocking(&launch.state_dir, move || {
            let launch = launch_copy;
            let prepared = prepare(&launch, &config, &hierarchy, &command, &task_config)?;
            let Prepared {
                command,
                cgroup,
                mut isolation,
            } = prepared;
            isolation.capabilities = capabilities;
            let spec = prepare_executor_spec(
                &executor,
                &launch,
                Program {
                    path: command,
                    args: task_config.args.clone(),
                    // Inside the chroot: `work_dir` is a path there; Nomad starts tasks in `/`.
                    cwd: task_config
                        .work_dir
                        .as_ref()
                        .map_or_else(|| PathBuf::from("/"), PathBuf::from),
                    oom_score_adj: task_config.oom_score_adj,
                    denied_envvars: &task_config.denied_envvars,
                },
            );
            let written = spec.and_then(|mut spec| {
                spec.isolation = Some(isolation);
                spec.cgroup = Some(cgroup.clone());
                WrittenSpec::write(spec)
            });
            written.inspect_err(|_| {
                let _ = cgroup.destroy();
            })
        })
        .await?;
        start_prepared(&self.executor, written).await
    }
}

/// What [`prepare`] resolved for one task.
struct Prepared {
    /// The program's path inside the chroot.
    command: PathBuf,
    cgroup: crate::cgroups::TaskCgroup,
    /// Without its capabilities yet.
    isolation: Isolation,
}

/// Resolves the command in the chroot and the task's user, prepares the task
/// directory and its mount points, and creates the task's cgroup (blocking).
fn prepare(
    launch: &TaskLaunch,
    config: &ExecConfig,
    hierarchy: &Hierarchy,
    command: &str,
    task_config: &ExecTaskConfig,
) -> Result<Prepared, DriverError> {
    let custom: Option<Vec<(String, String)>> = config
        .chroot_env
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    let env = chroot::chroot_env(custom.as_deref());
    let resolved = chroot::resolve_command(command, &launch.task_dir, &env).map_err(|reason| {
        DriverError::CommandNotFound {
            command: command.to_string(),
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
    let volumes = chroot::volume_binds(&launch.task_dir, &launch.mounts)
        .map_err(|e| DriverError::InvalidConfig(format!("volume_mount: {e}")))?;
    let mounts = chroot::mount_plan(
        &launch.task_dir,
        &launch.alloc_dir,
        &env,
        volumes,
        uid,
        gid,
        SECRETS_SIZE_MB,
    );
    chroot::create_mount_points(&launch.task_dir, &mounts)
        .map_err(|e| setup_error("failed to create mount points", &e))?;
    let cgroup = hierarchy
        .create(
            &launch.cgroup_name(),
            &cgroup_resources(&launch.resources, config.pids_limit),
        )
        .map_err(|e| setup_error("failed to create the task's cgroup", &e))?;
    let private = |mode: Option<NamespaceMode>, default: &str| match mode {
        Some(mode) => mode == NamespaceMode::Private,
        None => default == "private",
    };
    let isolation = Isolation {
        task_dir: launch.task_dir.clone(),
        mounts,
        hostname: caravan_structs::short_id(&launch.alloc_id).to_string(),
        uid,
        gid,
        groups,
        pid_namespace: private(task_config.pid_mode, &config.default_pid_mode),
        // Nomad shares the host's network unless the group asks otherwise; Caravan
        // isolates a task unless its group has a `network` block in host mode, so
        // that no exec task reaches the agent's loopback API by default.
        net_namespace: launch.network_mode.as_deref() != Some("host"),
        ipc_namespace: private(task_config.ipc_mode, &config.default_ipc_mode),
        capabilities: Vec::new(),
    };
    Ok(Prepared {
        command: resolved,
        cgroup,
        isolation,
    })
}

impl Driver for ExecDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Nomad's: healthy as root with cgroups; a bad plugin block makes it unhealthy
    /// with the block's error as the description.
    fn fingerprint(&self) -> DriverInfo {
        // SAFETY: geteuid cannot fail.
        let euid = unsafe { libc::geteuid() };
        let mut info = fingerprint_with(euid, self.hierarchy.as_ref());
        if let Err(error) = &self.config {
            info.healthy = false;
            info.health_description = error.clone();
        }
        info
    }

    fn config_schema(&self) -> DriverSchema {
        SCHEMA
    }

    fn capabilities(&self) -> DriverCapabilities {
        DriverCapabilities {
            send_signals: true,
            exec: true,
            fs_isolation: FsIsolation::Chroot,
            default_user: Some("nobody"),
            default_kill_signal: None,
        }
    }

    crate::driver::executor_task_methods!(ExecTaskConfig);
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
    fn the_typed_config_reads_every_key_of_the_schema() {
        let mut config = serde_json::Map::new();
        for key in SCHEMA.keys {
            let value = match (key.kind, key.name) {
                (_, "pid_mode" | "ipc_mode") => serde_json::json!("host"),
                (ConfigKind::String, _) => serde_json::json!("x"),
                (ConfigKind::StringList, _) => serde_json::json!(["x"]),
                (ConfigKind::Number, _) => serde_json::json!(5),
                (ConfigKind::Map, _) => serde_json::json!({}),
                (ConfigKind::Bool, _) => serde_json::json!(true),
                (ConfigKind::Blocks, _) => serde_json::json!([{}]),
            };
            config.insert(key.name.to_string(), value);
        }
        let decoded: ExecTaskConfig = decode(&config).unwrap();
        assert_eq!(decoded.pid_mode, Some(NamespaceMode::Host));
        assert_eq!((decoded.cap_add.len(), decoded.oom_score_adj), (1, 5));
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
