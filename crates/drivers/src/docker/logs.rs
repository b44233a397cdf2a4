//! Copying a container's output into the task's log files, as Nomad's docker logger
//! does: the daemon's log stream, followed, demultiplexed into stdout and stderr.
//!
//! Each line comes with the daemon's timestamp, and the last one written for each
//! stream is recorded in the state directory, so that a follower started again after an
//! agent restart asks only for what is newer and writes no line twice.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::log_rotation::{RotatingLog, TaskLogs};
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::executor::{read_json, write_json_atomic};

/// A log follower running on the agent's runtime.
pub struct LogFollower {
    task: JoinHandle<()>,
    /// Frames received so far: how a drain tells a follower still copying from a
    /// stream the daemon keeps open with nothing on it.
    frames: Arc<AtomicU64>,
}

impl LogFollower {
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        socket: String,
        container_id: String,
        target: LogTarget,
    ) -> LogFollower {
        let frames = Arc::new(AtomicU64::new(0));
        let task = runtime.spawn(follow(socket, container_id, target, frames.clone()));
        LogFollower { task, frames }
    }

    /// Waits until the follower has copied everything: its stream ends with the
    /// container, however long a large backlog takes to copy, but a daemon that keeps
    /// the stream open with nothing more on it holds the exit up for `idle` at most.
    pub async fn drain(mut self, idle: Duration) {
        let mut seen = self.frames.load(Ordering::Relaxed);
        loop {
            if tokio::time::timeout(idle, &mut self.task).await.is_ok() {
                return;
            }
            let now = self.frames.load(Ordering::Relaxed);
            if now == seen {
                self.task.abort();
                return;
            }
            seen = now;
        }
    }
}

/// Where the follower records how far it got.
pub const POSITION_FILE: &str = "docker-logs.json";

/// How often at most the position is written while lines keep coming.
const POSITION_EVERY: Duration = Duration::from_millis(200);

/// The timestamp (Unix nanoseconds) of the last line written, per stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    pub stdout: i64,
    pub stderr: i64,
}

impl LogPosition {
    /// The `since` to ask the daemon for: the older stream's last second (the daemon
    /// takes whole seconds; lines at or before the recorded time are skipped here).
    fn since_seconds(&self) -> i32 {
        let oldest = self.stdout.min(self.stderr).max(0);
        i32::try_from(oldest / 1_000_000_000).unwrap_or(0)
    }
}

/// One of the task's log streams: its rotating files, or nothing with `logs { disabled
/// }` (the output is read and dropped, so the container never blocks on it).
pub struct LogSink {
    file: Option<RotatingLog>,
}

impl LogSink {
    /// Opens `stream` (`stdout` or `stderr`) of the task's logs.
    pub fn open(logs: &TaskLogs, stream: &str) -> std::io::Result<LogSink> {
        let file = if logs.disabled {
            None
        } else {
            Some(logs.open(stream)?)
        };
        Ok(LogSink { file })
    }

    /// Appends `bytes`, rotating as the task's `logs` block says.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(bytes),
            None => Ok(()),
        }
    }
}

/// The task's log settings and the state directory the position is kept in.
#[derive(Debug, Clone)]
pub struct LogTarget {
    pub logs: TaskLogs,
    pub state_dir: PathBuf,
}

/// Splits a line the daemon timestamped (`2026-01-02T03:04:05.123456789Z text`).
pub fn split_timestamp(line: &[u8]) -> Option<(i64, &[u8])> {
    let space = line.iter().position(|b| *b == b' ')?;
    let stamp = std::str::from_utf8(&line[..space]).ok()?;
    let nanos = caravan_structs::time::parse_rfc3339(stamp)?;
    Some((nanos, &line[space + 1..]))
}

/// Follows the container's output into the log files until the container stops (or
/// the daemon goes away).
pub async fn follow(
    socket: String,
    container_id: String,
    target: LogTarget,
    frames: Arc<AtomicU64>,
) {
    let docker = match super::client::connect(&socket).await {
        Ok(docker) => docker,
        Err(error) => {
            tracing::warn!(%error, "docker: cannot follow the container's logs");
            return;
        }
    };
    let position_path = target.state_dir.join(POSITION_FILE);
    let mut position: LogPosition = read_json(&position_path).unwrap_or_default();
    let (mut stdout, mut stderr) = match (
        LogSink::open(&target.logs, "stdout"),
        LogSink::open(&target.logs, "stderr"),
    ) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "docker: cannot open the task's log files");
            return;
        }
    };
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(position.since_seconds())
        .build();
    let mut stream = docker.logs(&container_id, Some(options));
    let mut saved = position;
    let mut saved_at = Instant::now();
    loop {
        // A quiet stream is the moment to record the position: a follower killed
        // then repeats nothing.
        let frame = match tokio::time::timeout(POSITION_EVERY, stream.next()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                if saved != position {
                    save(&position_path, &position);
                    (saved, saved_at) = (position, Instant::now());
                }
                continue;
            }
        };
        frames.fetch_add(1, Ordering::Relaxed);
        let (message, sink, last) = match frame {
            Ok(LogOutput::StdOut { message }) => (message, &mut stdout, &mut position.stdout),
            Ok(LogOutput::StdErr { message }) => (message, &mut stderr, &mut position.stderr),
            Ok(_) => continue,
            Err(error) => {
                tracing::debug!(%error, container = %container_id, "docker: log stream ended");
                break;
            }
        };
        let text = match split_timestamp(&message) {
            Some((stamp, _)) if stamp <= *last => continue,
            Some((stamp, text)) => {
                *last = stamp;
                text
            }
            None => &message[..],
        };
        if let Err(error) = sink.write(text) {
            tracing::warn!(%error, "docker: cannot write the task's log file");
        }
        if saved != position && saved_at.elapsed() >= POSITION_EVERY {
            save(&position_path, &position);
            (saved, saved_at) = (position, Instant::now());
        }
    }
    if saved != position {
        save(&position_path, &position);
    }
}

fn save(path: &Path, position: &LogPosition) {
    if let Err(error) = write_json_atomic(path, position) {
        tracing::warn!(%error, "docker: cannot record the log position");
    }
}
