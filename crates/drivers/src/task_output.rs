//! The task's stdout and stderr inside the executor: pipes whose write ends the task
//! gets, and one thread per stream that copies the read end into the stream's
//! [`RotatingLog`]. The executor, not the agent, owns them, so output keeps flowing
//! into rotated files while the agent is stopped or restarted.
//!
//! The task sees ordinary pipe semantics: writes block only while the executor is
//! slower than the task (never on the agent), and a task writing after its executor
//! died gets `EPIPE`/`SIGPIPE`. Once the task is over the executor reads both pipes to
//! their end before it records the exit, so no tail line is lost.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::log_rotation::{RotatingLog, TaskLogs, copy_into};

/// How long the executor waits for the pipes' end once the task is over. A descendant
/// that escaped the task's group and cgroup may hold them open forever; its output
/// after this is still copied until the executor exits.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The descriptors the task gets as its fd 1 and 2. The executor drops its copies once
/// the task started, so that the pipes end with the task.
pub(crate) struct TaskEnds {
    pub stdout: File,
    pub stderr: File,
}

/// The pipes' read ends with their logs, before the task starts; none with logs
/// disabled.
pub(crate) struct PendingCopies {
    copies: Vec<(File, RotatingLog)>,
}

/// The copying threads of a started task.
pub(crate) struct RunningCopies {
    done: mpsc::Receiver<()>,
    count: usize,
}

/// Opens the task's log files and its pipes, or `/dev/null` twice when logs are
/// disabled.
pub(crate) fn open(logs: &TaskLogs) -> Result<(TaskEnds, PendingCopies), String> {
    if logs.disabled {
        let open = || {
            File::options()
                .write(true)
                .open("/dev/null")
                .map_err(|e| format!("failed to open /dev/null: {e}"))
        };
        let ends = TaskEnds {
            stdout: open()?,
            stderr: open()?,
        };
        return Ok((ends, PendingCopies { copies: Vec::new() }));
    }
    let pipe = |stream: &str| -> Result<(File, (File, RotatingLog)), String> {
        let log = logs.open(stream).map_err(|e| {
            format!(
                "failed to open log file {}: {e}",
                logs.dir.join(format!("{}.{stream}.*", logs.task)).display()
            )
        })?;
        // Close-on-exec on both ends: the task gets the write end as fd 1 or 2 only.
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("failed to make the task's {stream} pipe: {e}"))?;
        Ok((File::from(write), (File::from(read), log)))
    };
    let (stdout, stdout_copy) = pipe("stdout")?;
    let (stderr, stderr_copy) = pipe("stderr")?;
    Ok((
        TaskEnds { stdout, stderr },
        PendingCopies {
            copies: vec![stdout_copy, stderr_copy],
        },
    ))
}

impl PendingCopies {
    /// The read ends, which a forked child that does not exec must close.
    pub fn read_fds(&self) -> Vec<RawFd> {
        self.copies
            .iter()
            .map(|(read, _)| read.as_raw_fd())
            .collect()
    }

    /// Starts copying, once the task runs and the executor's copies of the write ends
    /// are closed. Threads only now: `exec`'s fork needs a single-threaded executor.
    pub fn start(self) -> RunningCopies {
        let (done_tx, done) = mpsc::channel();
        let count = self.copies.len();
        for (read, mut log) in self.copies {
            let done_tx = done_tx.clone();
            std::thread::spawn(move || {
                if let Err(error) = copy_into(read, &mut log) {
                    eprintln!(
                        "executor: writing the task's log {}: {error}",
                        log.path().display()
                    );
                }
                let _ = done_tx.send(());
            });
        }
        RunningCopies { done, count }
    }
}

impl RunningCopies {
    /// Waits until both pipes are read to their end (the task and everything that
    /// shared its output are gone), for at most [`DRAIN_TIMEOUT`].
    pub fn drain(self) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        for _ in 0..self.count {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.done.recv_timeout(left).is_err() {
                eprintln!("executor: the task's output is still open after it exited");
                return;
            }
        }
    }
}
