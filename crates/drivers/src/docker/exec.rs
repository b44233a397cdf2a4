//! `alloc exec` into a container: a command started through the daemon's exec API in
//! the task's container, with the task's environment, its output demultiplexed into
//! the session's stdout and stderr.

use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ResizeExecOptions;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use super::client::connect;
use super::container::ContainerRecord;
use crate::task_exec::{EngineCommand, ExecReader, ExecRequest, ExecSession, ExecWriter};
use crate::{DriverError, DriverFuture};

/// How much output is buffered for a reader that is slower than the command.
const PIPE_BYTES: usize = 64 * 1024;

/// How long a quiet stream waits before asking whether the command still runs.
const POLL: Duration = Duration::from_millis(200);

/// How long output is still read once the command has ended.
const DRAIN: Duration = Duration::from_millis(100);

/// Starts `request` in the container recorded in `state_dir`.
pub async fn start(
    socket: &str,
    state_dir: &Path,
    request: ExecRequest,
) -> Result<ExecSession, DriverError> {
    let record = ContainerRecord::read(state_dir).ok_or(DriverError::NotRunning)?;
    if request.command.is_empty() {
        return Err(DriverError::Exec("no command to run".into()));
    }
    let docker = connect(socket).await.map_err(DriverError::Exec)?;
    if !super::client::is_running(&docker, &record.id).await {
        return Err(DriverError::NotRunning);
    }
    let created = docker
        .create_exec(
            &record.id,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(request.tty),
                cmd: Some(request.command.clone()),
                ..CreateExecOptions::default()
            },
        )
        .await
        .map_err(|e| DriverError::Exec(e.to_string()))?;
    let started = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty: request.tty,
                output_capacity: None,
            }),
        )
        .await
        .map_err(|e| DriverError::Exec(e.to_string()))?;
    let StartExecResults::Attached { mut output, input } = started else {
        return Err(DriverError::Exec("the daemon detached the command".into()));
    };
    if let (true, Some((height, width))) = (request.tty, request.tty_size) {
        // The engine takes a terminal's size only once the command has started.
        let size = ResizeExecOptions {
            h: i32::from(height),
            w: i32::from(width),
        };
        let _ = docker.resize_exec(&created.id, size).await;
    }
    let (stdout_reader, mut stdout_writer) = tokio::io::simplex(PIPE_BYTES);
    let (stderr_reader, mut stderr_writer) = tokio::io::simplex(PIPE_BYTES);
    let (relay_docker, relay_exec) = (docker.clone(), created.id.clone());
    let relay = tokio::spawn(async move {
        // The daemon may keep the stream open after the command exits (its stdin half
        // is still open): the command's end is also asked for, and what it wrote last
        // is drained.
        let mut ended = false;
        loop {
            let wait = if ended { DRAIN } else { POLL };
            let frame = match tokio::time::timeout(wait, output.next()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(_)) | None) => break,
                Err(_) if ended => break,
                Err(_) => {
                    ended = relay_docker
                        .inspect_exec(&relay_exec)
                        .await
                        .map_or(true, |inspect| inspect.running != Some(true));
                    continue;
                }
            };
            let written = match frame {
                LogOutput::StdErr { message } => stderr_writer.write_all(&message).await,
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    stdout_writer.write_all(&message).await
                }
                LogOutput::StdIn { .. } => Ok(()),
            };
            if written.is_err() {
                break;
            }
        }
        // The readers see their end only once the writing side is shut down.
        let _ = stdout_writer.shutdown().await;
        let _ = stderr_writer.shutdown().await;
    });
    let stdin: ExecWriter = if request.tty {
        // The daemon ends a terminal's whole session when its input is shut down; the
        // end of a terminal's input is the ^D typed into it.
        Box::pin(KeepOpen(input))
    } else {
        input
    };
    let stdout: ExecReader = Box::pin(stdout_reader);
    let stderr: Option<ExecReader> = (!request.tty).then(|| Box::pin(stderr_reader) as ExecReader);
    Ok(ExecSession::from_engine(
        Some(stdin),
        Some(stdout),
        stderr,
        request.tty,
        Box::new(ContainerCommand {
            docker,
            exec_id: created.id,
            relay: Some(relay),
        }),
    ))
}

/// A command the daemon runs in the container.
struct ContainerCommand {
    docker: Docker,
    exec_id: String,
    relay: Option<JoinHandle<()>>,
}

impl EngineCommand for ContainerCommand {
    fn resize(&self, height: u16, width: u16) {
        let (docker, exec_id) = (self.docker.clone(), self.exec_id.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let size = ResizeExecOptions {
                    h: i32::from(height),
                    w: i32::from(width),
                };
                let _ = docker.resize_exec(&exec_id, size).await;
            });
        }
    }

    fn wait(&mut self) -> DriverFuture<'_, i32> {
        Box::pin(async move {
            // The output ends when the command does.
            if let Some(relay) = self.relay.take() {
                let _ = relay.await;
            }
            for _ in 0..50 {
                match self.docker.inspect_exec(&self.exec_id).await {
                    Ok(inspect) if inspect.running != Some(true) => {
                        return inspect.exit_code.map_or(-1, |code| code as i32);
                    }
                    Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                    Err(_) => return -1,
                }
            }
            -1
        })
    }

    fn kill(&mut self) {
        // Docker has no way to kill an exec'd command; stop relaying its streams.
        if let Some(relay) = self.relay.take() {
            relay.abort();
        }
    }
}

impl Drop for ContainerCommand {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A writer whose shutdown leaves the connection open (a terminal session's input).
struct KeepOpen(ExecWriter);

impl tokio::io::AsyncWrite for KeepOpen {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.0.as_mut().poll_flush(cx)
    }
}
