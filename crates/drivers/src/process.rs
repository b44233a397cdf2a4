//! A running task process and its process group.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;

/// How a task's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExitResult {
    pub exit_code: i32,
    /// The signal that killed it, or 0.
    pub signal: i32,
}

impl ExitResult {
    /// Exit code 0 and no signal.
    pub fn successful(&self) -> bool {
        self.exit_code == 0 && self.signal == 0
    }
}

/// A started task: the leader process of its own process group.
pub struct TaskProcess {
    child: Child,
    pid: i32,
    exited: Option<ExitResult>,
}

impl TaskProcess {
    pub(crate) fn new(child: Child) -> Option<TaskProcess> {
        let pid = child.id()? as i32;
        Some(TaskProcess {
            child,
            pid,
            exited: None,
        })
    }

    /// The leader's PID, which is also the process group ID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the leader to exit, then kills whatever else is left in its group.
    pub async fn wait(&mut self) -> ExitResult {
        if let Some(result) = self.exited {
            return result;
        }
        let result = match self.child.wait().await {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                // Nomad's executor mirrors bash: a signalled process exits with 128 + signal.
                match status.signal() {
                    Some(signal) => ExitResult {
                        exit_code: 128 + signal,
                        signal,
                    },
                    None => ExitResult {
                        exit_code: status.code().unwrap_or(-1),
                        signal: 0,
                    },
                }
            }
            Err(_) => ExitResult {
                exit_code: -1,
                signal: 0,
            },
        };
        // The task is over when its leader is: children it left running would be orphans.
        self.signal_group(Signal::SIGKILL);
        self.exited = Some(result);
        result
    }

    /// Sends a signal to every process of the task.
    pub fn signal_group(&self, signal: Signal) {
        // ESRCH (group already gone) is the expected end state, not an error.
        let _ = killpg(Pid::from_raw(self.pid), signal);
    }

    /// Stops the task: `signal` to the whole group, SIGKILL after `timeout` if the leader
    /// has not exited by then, and SIGKILL for any straggler in the group either way.
    /// Returns how the leader ended and whether it had to be force-killed.
    pub async fn stop(&mut self, signal: Signal, timeout: Duration) -> (ExitResult, bool) {
        if let Some(result) = self.exited {
            return (result, false);
        }
        self.signal_group(signal);
        match tokio::time::timeout(timeout, self.wait()).await {
            Ok(result) => (result, false),
            Err(_) => {
                self.signal_group(Signal::SIGKILL);
                (self.wait().await, true)
            }
        }
    }
}

impl Drop for TaskProcess {
    fn drop(&mut self) {
        // A handle dropped without a stop (agent shutting down in a hurry) still takes
        // its processes with it.
        if self.exited.is_none() {
            self.signal_group(Signal::SIGKILL);
        }
    }
}

/// Parses a signal name as Nomad's `kill_signal` takes it (`SIGINT`, `SIGTERM`, `INT`).
pub fn parse_signal(name: &str) -> Option<Signal> {
    if name.is_empty() {
        return Some(Signal::SIGINT);
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().ok()
}
