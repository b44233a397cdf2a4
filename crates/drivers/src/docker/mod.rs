//! `docker`: runs a task as a container of the local Docker Engine, through its API
//! (bollard, on the plugin's unix socket).
//!
//! The container is named `<task>-<alloc_id>` and labelled with the allocation; the
//! task's directories are bound at `/alloc`, `/local` and `/secrets`. Its ID is recorded
//! in the task's state directory ([`container::CONTAINER_FILE`]): an agent started
//! again re-attaches by it, and the log follower resumes where it stopped
//! ([`logs`]). The daemon, not an executor, runs the container, so the task survives
//! an agent restart whatever the agent's mode.

pub mod client;
pub mod config;
pub mod container;
pub mod exec;
pub mod image;
pub mod logs;
pub mod spec;
pub mod stats;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, RemoveContainerOptionsBuilder,
};
use caravan_structs::DriverInfo;
use caravan_structs::driver_schema::DriverSchema;
use nix::sys::signal::Signal;

pub use config::{DockerPluginConfig, DockerTaskConfig};
use container::{ContainerRecord, ContainerTask};

use crate::driver::{DriverCapabilities, DriverFuture, FsIsolation};
use crate::stats::Sample;
use crate::task_config::decode;
use crate::task_exec::{ExecRequest, ExecSession};
use crate::{Driver, DriverError, ExitResult, TaskLaunch, TaskLogs, TaskProcess};

/// The driver's name in job files.
pub const NAME: &str = "docker";

/// How long the fingerprint waits for the daemon.
const FINGERPRINT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `docker` driver, configured by `plugin "docker"`. A bad plugin block leaves it
/// unhealthy (its error as the health description) rather than failing the agent.
#[derive(Debug, Clone)]
pub struct DockerDriver {
    config: Result<DockerPluginConfig, String>,
    /// The agent's tasks go with it (a dev agent, whose state goes too): a container
    /// whose handle is dropped unfinished is removed.
    remove_with_agent: bool,
}

impl DockerDriver {
    /// A driver with the plugin block as read ([`DockerPluginConfig::from_plugin_config`]);
    /// `remove_with_agent` for an agent whose tasks do not outlive it (`-dev`).
    pub fn new(
        config: Result<DockerPluginConfig, String>,
        remove_with_agent: bool,
    ) -> DockerDriver {
        DockerDriver {
            config,
            remove_with_agent,
        }
    }

    fn plugin(&self) -> Result<&DockerPluginConfig, DriverError> {
        self.config
            .as_ref()
            .map_err(|_| DriverError::Unavailable { driver: NAME })
    }

    fn socket(&self) -> String {
        self.config
            .as_ref()
            .map(|c| c.socket_path().to_string())
            .unwrap_or_else(|_| DockerPluginConfig::default().socket_path().to_string())
    }

    async fn start_container(
        &self,
        launch: &TaskLaunch,
        task_config: &DockerTaskConfig,
    ) -> Result<TaskProcess, DriverError> {
        let plugin = self.plugin()?.clone();
        let fail = DriverError::InvalidConfig;
        let image = task_config.image().map_err(fail)?.to_string();
        let body = spec::container_body(launch, task_config, &plugin, &image)
            .map_err(DriverError::InvalidConfig)?;
        let socket = plugin.socket_path().to_string();
        let docker = client::connect(&socket)
            .await
            .map_err(DriverError::Engine)?;
        image::ensure(
            &docker,
            launch,
            &image,
            task_config.auth(),
            task_config.force_pull,
        )
        .await
        .map_err(DriverError::Engine)?;
        let name = spec::container_name(launch);
        // A container of an earlier run of this task (a restart, or an agent that died
        // before recording it) holds the name.
        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
        let _ = docker.remove_container(&name, Some(remove)).await;
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| DriverError::Engine(format!("failed to create container: {e}")))?;
        let record = ContainerRecord {
            id: created.id,
            image,
        };
        let started = async {
            record
                .write(&launch.state_dir)
                .map_err(|e| format!("failed to record the container: {e}"))?;
            docker
                .start_container(&record.id, None)
                .await
                .map_err(|e| format!("failed to start container {}: {e}", record.id))
        };
        if let Err(message) = started.await {
            let remove = RemoveContainerOptionsBuilder::default().force(true).build();
            let _ = docker.remove_container(&record.id, Some(remove)).await;
            let _ = std::fs::remove_file(launch.state_dir.join(container::CONTAINER_FILE));
            return Err(DriverError::Engine(message));
        }
        Ok(handle(
            &launch.state_dir,
            record,
            &plugin,
            self.remove_with_agent,
        ))
    }
}

/// The handle on a running container, with its log follower started on the current
/// runtime (the agent's, also from its blocking pool).
fn handle(
    state_dir: &Path,
    record: ContainerRecord,
    plugin: &DockerPluginConfig,
    remove_on_drop: bool,
) -> TaskProcess {
    let socket = plugin.socket_path().to_string();
    let logs = (!plugin.disable_log_collection)
        .then(|| log_target(state_dir))
        .flatten()
        .zip(tokio::runtime::Handle::try_current().ok())
        .map(|(target, runtime)| {
            logs::LogFollower::spawn(&runtime, socket.clone(), record.id.clone(), target)
        });
    TaskProcess::external(
        state_dir.to_path_buf(),
        Box::new(ContainerTask {
            socket,
            record,
            logs,
            gc: plugin.gc.clone(),
            remove_on_drop,
            ended: false,
        }),
    )
}

/// The log files of the task whose state directory is `state_dir`, as recorded at
/// start (the follower started again after a restart writes to the same files).
fn log_target(state_dir: &Path) -> Option<logs::LogTarget> {
    let logs: TaskLogs = crate::executor::read_json(&state_dir.join(LOG_SETTINGS_FILE))?;
    Some(logs::LogTarget {
        logs,
        state_dir: state_dir.to_path_buf(),
    })
}

/// Where the task's output goes and how it rotates, recorded for a follower started
/// after a restart.
const LOG_SETTINGS_FILE: &str = "docker-logs-settings.json";

fn record_log_settings(launch: &TaskLaunch) -> Result<(), DriverError> {
    std::fs::create_dir_all(&launch.state_dir)
        .and_then(|()| {
            crate::executor::write_json_atomic(
                &launch.state_dir.join(LOG_SETTINGS_FILE),
                &launch.logs,
            )
        })
        .map_err(|e| DriverError::Executor {
            state_dir: launch.state_dir.display().to_string(),
            reason: e.to_string(),
        })
}

/// Nomad's docker fingerprint: healthy with the daemon's version when it answers;
/// undetected and unhealthy, saying why, when it does not.
pub fn fingerprint_from(version: Result<String, String>) -> DriverInfo {
    match version {
        Ok(version) => DriverInfo {
            detected: true,
            healthy: true,
            health_description: "Healthy".into(),
            attributes: BTreeMap::from([
                ("driver.docker".into(), "1".into()),
                ("driver.docker.version".into(), version),
            ]),
            ..DriverInfo::default()
        },
        Err(reason) => DriverInfo {
            detected: false,
            healthy: false,
            health_description: format!("Failed to connect to docker daemon: {reason}"),
            ..DriverInfo::default()
        },
    }
}

impl Driver for DockerDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn fingerprint(&self) -> DriverInfo {
        if let Err(error) = &self.config {
            return DriverInfo {
                detected: false,
                healthy: false,
                health_description: error.clone(),
                ..DriverInfo::default()
            };
        }
        fingerprint_from(client::blocking(
            &self.socket(),
            FINGERPRINT_TIMEOUT,
            |docker| async move {
                let version = docker.version().await.map_err(|e| e.to_string())?;
                Ok(version.version.unwrap_or_default())
            },
        ))
    }

    fn config_schema(&self) -> DriverSchema {
        config::SCHEMA
    }

    fn capabilities(&self) -> DriverCapabilities {
        DriverCapabilities {
            send_signals: true,
            exec: true,
            fs_isolation: FsIsolation::Image,
            default_user: None,
            default_kill_signal: Some("SIGTERM"),
        }
    }

    fn start<'a>(
        &'a self,
        launch: &'a TaskLaunch,
    ) -> DriverFuture<'a, Result<TaskProcess, DriverError>> {
        Box::pin(async move {
            let task_config: DockerTaskConfig = decode(&launch.config)?;
            // A position left by an earlier run of this task is not this run's.
            let _ = std::fs::remove_file(launch.state_dir.join(logs::POSITION_FILE));
            let _ = std::fs::remove_file(launch.state_dir.join(container::CONTAINER_FILE));
            record_log_settings(launch)?;
            self.start_container(launch, &task_config).await
        })
    }

    fn recover(&self, state_dir: &Path) -> Result<TaskProcess, DriverError> {
        let fail = |reason: String| DriverError::Recover {
            state_dir: state_dir.display().to_string(),
            reason,
        };
        let plugin = self.plugin()?.clone();
        let record = ContainerRecord::read(state_dir).ok_or_else(|| {
            fail(format!(
                "no container record ({})",
                container::CONTAINER_FILE
            ))
        })?;
        let id = record.id.clone();
        client::blocking(
            plugin.socket_path(),
            FINGERPRINT_TIMEOUT,
            |docker| async move {
                docker
                    .inspect_container(&id, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("container {id}: {e}"))
            },
        )
        .map_err(fail)?;
        Ok(handle(state_dir, record, &plugin, self.remove_with_agent))
    }

    fn stop<'a>(
        &'a self,
        task: &'a mut TaskProcess,
        signal: Signal,
        timeout: Duration,
    ) -> DriverFuture<'a, (ExitResult, bool)> {
        Box::pin(async move {
            if task.exited() {
                return (task.wait().await, false);
            }
            if let Err(error) = self.send_signal(task, signal).await {
                tracing::warn!(%error, "docker: cannot signal the container");
            }
            match tokio::time::timeout(timeout, task.wait()).await {
                Ok(exit) => (exit, false),
                Err(_) => {
                    if let Err(error) = self.send_signal(task, Signal::SIGKILL).await {
                        tracing::warn!(%error, "docker: cannot kill the container");
                    }
                    (task.wait().await, true)
                }
            }
        })
    }

    fn signal(&self, task: &TaskProcess, signal: Signal) -> Result<(), DriverError> {
        let id = task
            .external_id()
            .ok_or(DriverError::NotRunning)?
            .to_string();
        client::blocking(&self.socket(), FINGERPRINT_TIMEOUT, |docker| async move {
            kill(&docker, &id, signal).await
        })
        .map_err(DriverError::Engine)
    }

    fn signal_recorded(&self, state_dir: &Path, signal: Signal) -> bool {
        let Some(record) = ContainerRecord::read(state_dir) else {
            return false;
        };
        client::blocking(&self.socket(), FINGERPRINT_TIMEOUT, |docker| async move {
            kill(&docker, &record.id, signal).await
        })
        .is_ok()
    }

    fn exec<'a>(
        &'a self,
        state_dir: &'a Path,
        request: ExecRequest,
    ) -> DriverFuture<'a, Result<ExecSession, DriverError>> {
        Box::pin(async move { exec::start(&self.socket(), state_dir, request).await })
    }

    fn stats(&self, state_dir: &Path) -> Option<Sample> {
        stats::sample(&self.socket(), state_dir)
    }
}

impl DockerDriver {
    async fn send_signal(&self, task: &TaskProcess, signal: Signal) -> Result<(), String> {
        let id = task.external_id().ok_or("the task has no container")?;
        let docker = client::connect(&self.socket()).await?;
        kill(&docker, id, signal).await
    }
}

/// Sends `signal` to the container's main process.
async fn kill(docker: &Docker, id: &str, signal: Signal) -> Result<(), String> {
    let options = KillContainerOptionsBuilder::default()
        .signal(signal.as_str())
        .build();
    docker
        .kill_container(id, Some(options))
        .await
        .map_err(|e| format!("failed to signal container {id}: {e}"))
}
