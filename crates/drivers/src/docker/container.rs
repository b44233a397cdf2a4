//! A running container as the client holds it: its record in the state directory (what
//! an agent started again re-attaches by), and waiting for it to end.

use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{RemoveContainerOptionsBuilder, WaitContainerOptions};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::client::connect;
use super::config::GcConfig;
use super::image;
use crate::executor::{read_json, write_json_atomic};
use crate::process::ExternalTask;
use crate::{DriverFuture, ExitResult};

/// The record of the task's container in its state directory.
pub const CONTAINER_FILE: &str = "container.json";

/// What the state directory keeps about the task's container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub image: String,
}

impl ContainerRecord {
    pub fn read(state_dir: &Path) -> Option<ContainerRecord> {
        read_json(&state_dir.join(CONTAINER_FILE))
    }

    pub fn write(&self, state_dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(state_dir)?;
        write_json_atomic(&state_dir.join(CONTAINER_FILE), self)
    }
}

/// A task's container, waited on through the daemon.
pub struct ContainerTask {
    pub socket: String,
    pub record: ContainerRecord,
    /// The log follower, drained before the exit is reported so the log files hold
    /// everything the task wrote.
    pub logs: Option<super::logs::LogFollower>,
    pub gc: GcConfig,
    /// Remove the container when the handle is dropped before it ended (the agent's
    /// tasks go with it).
    pub remove_on_drop: bool,
    pub ended: bool,
}

impl Drop for ContainerTask {
    fn drop(&mut self) {
        if !self.remove_on_drop || self.ended {
            return;
        }
        let id = self.record.id.clone();
        let removed =
            super::client::blocking(&self.socket, Duration::from_secs(10), |docker| async move {
                let options = RemoveContainerOptionsBuilder::default().force(true).build();
                docker
                    .remove_container(&id, Some(options))
                    .await
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = removed {
            tracing::warn!(%error, container = %self.record.id, "docker: cannot remove the container of a task that goes with its agent");
        }
    }
}

impl ExternalTask for ContainerTask {
    fn id(&self) -> &str {
        &self.record.id
    }

    fn wait(&mut self) -> DriverFuture<'_, (ExitResult, bool)> {
        Box::pin(async move {
            let ended = wait_until_gone_or_exited(&self.socket, &self.record.id).await;
            if let Some(logs) = self.logs.take() {
                // The stream ends with the container; a daemon that keeps it open
                // must not hold up the exit.
                logs.drain(Duration::from_secs(5)).await;
            }
            if let Ok(docker) = connect(&self.socket).await {
                cleanup(docker, &self.record, &self.gc).await;
            }
            self.ended = true;
            ended
        })
    }
}

/// Waits for the container to stop and answers its exit and OOM kill; a daemon that
/// does not answer is asked again, a container that is gone counts as killed.
async fn wait_until_gone_or_exited(socket: &str, id: &str) -> (ExitResult, bool) {
    loop {
        match connect(socket).await {
            Ok(docker) => {
                if let Some(ended) = wait_once(&docker, id).await {
                    return ended;
                }
            }
            Err(error) => {
                tracing::warn!(%error, container = %id, "docker: waiting for the container")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `None` when the daemon could not tell.
async fn wait_once(docker: &Docker, id: &str) -> Option<(ExitResult, bool)> {
    let mut wait = docker.wait_container(id, None::<WaitContainerOptions>);
    // The stream answers once, when the container stops (an exit code above 0 comes
    // as an error carrying it).
    let _ = wait.next().await;
    match docker.inspect_container(id, None).await {
        Ok(inspect) => {
            let state = inspect.state.unwrap_or_default();
            if state.running == Some(true) {
                return None;
            }
            let exit_code = state.exit_code.unwrap_or(-1) as i32;
            let oom_killed = state.oom_killed.unwrap_or(false);
            // Nomad's docker driver reports the exit code as Docker does (128 + the
            // signal for a signal death) and no signal.
            Some((
                ExitResult {
                    exit_code,
                    signal: 0,
                },
                oom_killed,
            ))
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Some((
            ExitResult {
                exit_code: -1,
                signal: 0,
            },
            false,
        )),
        Err(error) => {
            tracing::warn!(%error, container = %id, "docker: inspecting the container");
            None
        }
    }
}

/// Removes an ended container (`gc { container }`) and then, later, its image when no
/// container uses it any more (`gc { image }`).
pub async fn cleanup(docker: Docker, record: &ContainerRecord, gc: &GcConfig) {
    if !gc.container {
        return;
    }
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    match docker.remove_container(&record.id, Some(options)).await {
        Ok(()) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(error) => {
            tracing::warn!(%error, container = %record.id, "docker: cannot remove the container");
            return;
        }
    }
    if gc.image {
        tokio::spawn(image::remove_when_unused(
            docker,
            record.image.clone(),
            gc.image_delay,
        ));
    }
}
