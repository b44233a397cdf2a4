//! `raw_exec`: runs a host command with no isolation, as the agent's user.

use std::path::{Path, PathBuf};
use std::time::Duration;

use caravan_structs::DriverInfo;
use caravan_structs::driver_schema::{ConfigKey, ConfigKind, ConfigRule, DriverSchema};
use nix::sys::signal::Signal;
use serde::Deserialize;

use crate::cgroups::Hierarchy;
use crate::driver::{DriverCapabilities, DriverFuture, FsIsolation};
use crate::executor::ExecutorCommand;
use crate::launch::{Program, WrittenSpec, blocking, prepare_executor_spec, start_prepared};
use crate::stats::Sample;
use crate::task_config::{self, decode, required_command};
use crate::{Driver, DriverError, ExitResult, TaskLaunch, TaskProcess};

/// The driver's name in job files.
pub const NAME: &str = "raw_exec";

/// Nomad's raw_exec task config (`drivers/rawexec/driver.go` taskConfigSpec).
pub const SCHEMA: DriverSchema = DriverSchema {
    keys: &[
        ConfigKey::required("command", ConfigKind::String),
        ConfigKey::optional("args", ConfigKind::StringList),
        ConfigKey::optional("work_dir", ConfigKind::String),
        ConfigKey::optional("oom_score_adj", ConfigKind::Number)
            .with_rule(ConfigRule::WholeNumber { min: 0, max: 1000 }),
        ConfigKey::optional("cgroup_v1_override", ConfigKind::Map),
        ConfigKey::optional("cgroup_v2_override", ConfigKind::String),
        ConfigKey::optional("denied_envvars", ConfigKind::StringList),
    ],
};

/// A `raw_exec` task's `config` block, decoded ([`SCHEMA`] lists the same keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExecTaskConfig {
    /// The program: absolute, relative to the task directory, or looked up in `PATH`.
    #[serde(default, deserialize_with = "task_config::string")]
    pub command: Option<String>,
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub args: Vec<String>,
    /// Where the task starts; the task directory when unset.
    #[serde(default, deserialize_with = "task_config::string")]
    pub work_dir: Option<String>,
    /// 0 to 1000; 0 leaves the kernel's default.
    #[serde(default, deserialize_with = "task_config::oom_score_adj")]
    pub oom_score_adj: u16,
    /// Names (or `PREFIX*` / `*SUFFIX` patterns) taken out of the task's environment.
    #[serde(default, deserialize_with = "task_config::scalar_list")]
    pub denied_envvars: Vec<String>,
    /// Refused at submit (each task gets a cgroup of its own); kept so that the schema
    /// and the config name the same keys.
    #[serde(default)]
    pub cgroup_v1_override: Option<serde_json::Value>,
    /// Refused at submit, as `cgroup_v1_override`.
    #[serde(default)]
    pub cgroup_v2_override: Option<serde_json::Value>,
}

/// The `raw_exec` driver. Off unless the agent enables it (`plugin "raw_exec" { config {
/// enabled = true } }`, or `-dev`). Every task runs under its own executor process
/// ([`crate::executor`]), so tasks outlive an agent restart and are found again with
/// [`Driver::recover`] (also while the driver is disabled).
#[derive(Debug, Clone)]
pub struct RawExecDriver {
    executor: ExecutorCommand,
    enabled: bool,
    /// Where each task gets a cgroup to track its processes; `None` where the agent
    /// cannot make cgroups (not root, none mounted): tasks then run without one.
    hierarchy: Option<Hierarchy>,
}

/// Finds the program like Nomad's executor: an absolute path as is, else the task's
/// `local/` and task directory, else `PATH`.
fn resolve_command(
    command: &str,
    task_dir: &Path,
    path_var: Option<&str>,
) -> Result<PathBuf, DriverError> {
    let not_found = |reason: &str| DriverError::CommandNotFound {
        command: command.to_string(),
        reason: reason.into(),
    };
    let candidate = Path::new(command);
    if candidate.is_absolute() {
        return if candidate.exists() {
            Ok(candidate.to_path_buf())
        } else {
            Err(not_found("no such file"))
        };
    }
    for dir in [task_dir.join("local"), task_dir.to_path_buf()] {
        let path = dir.join(command);
        if path.is_file() {
            return Ok(path);
        }
    }
    if command.contains('/') {
        return Err(not_found("no such file in the task directory"));
    }
    for dir in path_var
        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .split(':')
    {
        let path = Path::new(dir).join(command);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(not_found("not in the task directory or PATH"))
}

impl RawExecDriver {
    /// A driver that supervises its tasks with `executor`; `enabled` is the agent's
    /// setting (a disabled driver refuses to start tasks but re-attaches to them).
    pub fn new(executor: ExecutorCommand, enabled: bool) -> RawExecDriver {
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        RawExecDriver {
            executor,
            enabled,
            hierarchy: root.then(|| Hierarchy::discover().ok()).flatten(),
        }
    }

    /// Starts the task, under a new executor, as the leader of a new process group, and
    /// returns once the executor has recorded the task's PID.
    pub async fn start_task(
        &self,
        launch: &TaskLaunch,
        config: &RawExecTaskConfig,
    ) -> Result<TaskProcess, DriverError> {
        if !self.enabled {
            return Err(DriverError::Disabled { driver: NAME });
        }
        let command = required_command(&config.command)?.to_string();
        let (executor, hierarchy) = (self.executor.clone(), self.hierarchy.clone());
        let (launch_copy, config) = (launch.clone(), config.clone());
        let written = blocking(&launch.state_dir, move || {
            let launch = launch_copy;
            let program = resolve_command(
                &command,
                &launch.task_dir,
                launch.env.get("PATH").map(String::as_str),
            )?;
            let mut spec = prepare_executor_spec(
                &executor,
                &launch,
                Program {
                    path: program,
                    args: config.args.clone(),
                    cwd: config
                        .work_dir
                        .as_ref()
                        .map_or_else(|| launch.task_dir.clone(), PathBuf::from),
                    oom_score_adj: config.oom_score_adj,
                    denied_envvars: &config.denied_envvars,
                },
            )?;
            // Nomad's raw_exec puts each task in a cgroup where it can, so that
            // processes that leave the task's process group still die with it.
            spec.cgroup = hierarchy.as_ref().and_then(|hierarchy| {
                hierarchy
                    .create_tracking(&launch.cgroup_name())
                    .map_err(|error| {
                        tracing::warn!(%error, "raw_exec: running the task without a cgroup");
                    })
                    .ok()
            });
            let cgroup = spec.cgroup.clone();
            WrittenSpec::write(spec).inspect_err(|_| {
                if let Some(cgroup) = cgroup {
                    let _ = cgroup.destroy();
                }
            })
        })
        .await?;
        start_prepared(&self.executor, written).await
    }
}

impl Driver for RawExecDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Nomad's: healthy when enabled, "disabled" (not detected) otherwise.
    fn fingerprint(&self) -> DriverInfo {
        let (detected, description) = if self.enabled {
            (true, "Healthy")
        } else {
            (false, "disabled")
        };
        DriverInfo {
            detected,
            healthy: detected,
            health_description: description.into(),
            ..DriverInfo::default()
        }
    }

    fn config_schema(&self) -> DriverSchema {
        SCHEMA
    }

    fn capabilities(&self) -> DriverCapabilities {
        DriverCapabilities {
            send_signals: true,
            exec: true,
            fs_isolation: FsIsolation::None,
            default_user: None,
            default_kill_signal: None,
        }
    }

    crate::driver::executor_task_methods!(RawExecTaskConfig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typed_config_reads_every_key_of_the_schema() {
        let mut config = serde_json::Map::new();
        for key in SCHEMA.keys {
            let value = match key.kind {
                ConfigKind::String => serde_json::json!("x"),
                ConfigKind::StringList => serde_json::json!(["x"]),
                ConfigKind::Number => serde_json::json!(5),
                ConfigKind::Map => serde_json::json!({}),
                ConfigKind::Bool => serde_json::json!(true),
                ConfigKind::Blocks => serde_json::json!([{}]),
            };
            config.insert(key.name.to_string(), value);
        }
        let decoded: RawExecTaskConfig = decode(&config).unwrap();
        assert_eq!(decoded.command.as_deref(), Some("x"));
        assert_eq!(decoded.denied_envvars, ["x"]);
        assert_eq!(decoded.oom_score_adj, 5);
    }
}
