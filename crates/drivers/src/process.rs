//! A running task, supervised by its executor, and its process group.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::process::Child;

use crate::cgroups::TaskCgroup;
use crate::executor::{EXIT_FILE, ExitRecord, process_alive, read_json, same_process_alive};

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

/// A task that something other than Caravan's executor runs (a container engine): its
/// driver knows how to wait on it.
pub trait ExternalTask: Send + Sync {
    /// The engine's ID of the task (a container ID).
    fn id(&self) -> &str;
    /// Waits until the task ends: how it exited, and whether the OOM killer ended it.
    fn wait(&mut self) -> crate::DriverFuture<'_, (ExitResult, bool)>;
}

/// How the agent learns that the executor is done.
enum Supervisor {
    /// A task its engine runs; no process of ours.
    External(Box<dyn ExternalTask>),
    /// The executor this agent spawned: waiting on it also reaps it.
    Child(Child),
    /// An executor found again after an agent restart (not our child).
    Detached { pid: i32, start_time: u64 },
    /// The task had already exited when the handle was made.
    Done,
}

/// A started task: the leader of its own process group, supervised by an executor
/// process that records its exit in `<state dir>/exit.json`.
pub struct TaskProcess {
    pid: i32,
    start_time: u64,
    state_dir: PathBuf,
    supervisor: Supervisor,
    exited: Option<ExitResult>,
    /// The kernel's OOM killer struck in the task's cgroup (`exec` tasks).
    oom_killed: bool,
    /// The task's cgroup, for `exec` tasks.
    cgroup: Option<TaskCgroup>,
    kill_on_drop: bool,
}

impl TaskProcess {
    pub(crate) fn spawned(
        pid: i32,
        start_time: u64,
        state_dir: PathBuf,
        executor: Child,
        kill_on_drop: bool,
    ) -> TaskProcess {
        TaskProcess {
            pid,
            start_time,
            state_dir,
            supervisor: Supervisor::Child(executor),
            exited: None,
            oom_killed: false,
            cgroup: None,
            kill_on_drop,
        }
    }

    pub(crate) fn reattached(
        pid: i32,
        start_time: u64,
        state_dir: PathBuf,
        executor: (i32, u64),
        kill_on_drop: bool,
    ) -> TaskProcess {
        TaskProcess {
            pid,
            start_time,
            state_dir,
            supervisor: Supervisor::Detached {
                pid: executor.0,
                start_time: executor.1,
            },
            exited: None,
            oom_killed: false,
            cgroup: None,
            kill_on_drop,
        }
    }

    pub(crate) fn finished(pid: i32, state_dir: PathBuf, exit: ExitRecord) -> TaskProcess {
        TaskProcess {
            pid,
            start_time: 0,
            state_dir,
            supervisor: Supervisor::Done,
            exited: Some(exit.into()),
            oom_killed: exit.oom_killed,
            cgroup: None,
            kill_on_drop: false,
        }
    }

    /// A handle on a task an engine runs (`docker`). Its PID reads 0 and process-group
    /// signals are never sent: its driver stops and signals it through the engine.
    pub fn external(state_dir: PathBuf, task: Box<dyn ExternalTask>) -> TaskProcess {
        TaskProcess {
            pid: 0,
            start_time: 0,
            state_dir,
            supervisor: Supervisor::External(task),
            exited: None,
            oom_killed: false,
            cgroup: None,
            kill_on_drop: false,
        }
    }

    /// The engine's ID of a task an engine runs.
    pub fn external_id(&self) -> Option<&str> {
        match &self.supervisor {
            Supervisor::External(task) => Some(task.id()),
            _ => None,
        }
    }

    /// Whether the task has ended (its exit is known).
    pub fn exited(&self) -> bool {
        self.exited.is_some()
    }

    /// The same handle, knowing the task's cgroup (stats, and cleanup should the
    /// executor die before removing it).
    pub(crate) fn with_cgroup(mut self, cgroup: TaskCgroup) -> TaskProcess {
        self.cgroup = Some(cgroup);
        self
    }

    /// The task's cgroup (`exec` tasks).
    pub fn cgroup(&self) -> Option<&TaskCgroup> {
        self.cgroup.as_ref()
    }

    /// Whether the OOM killer killed a process of the task (known once it has exited).
    pub fn oom_killed(&self) -> bool {
        self.oom_killed
    }

    /// The leader's PID, which is also the process group ID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The executor's state directory (`task.json`, `exit.json`).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Waits for the task to end (its leader exited and the executor killed whatever was
    /// left in its group) and returns the exit the executor recorded.
    pub async fn wait(&mut self) -> ExitResult {
        if let Some(result) = self.exited {
            return result;
        }
        match &mut self.supervisor {
            Supervisor::External(task) => {
                let (result, oom_killed) = task.wait().await;
                self.oom_killed = oom_killed;
                self.exited = Some(result);
                return result;
            }
            Supervisor::Child(child) => {
                let _ = child.wait().await;
            }
            Supervisor::Detached { pid, start_time } => {
                wait_for_exit(*pid, *start_time).await;
            }
            Supervisor::Done => {}
        }
        let result = match read_json::<ExitRecord>(&self.state_dir.join(EXIT_FILE)) {
            Some(record) => {
                self.oom_killed = record.oom_killed;
                record.into()
            }
            None => {
                // The executor died without recording the exit (killed by hand, OOM):
                // nobody can report on the task any more, so it must not run on.
                tracing::warn!(
                    pid = self.pid,
                    state_dir = %self.state_dir.display(),
                    "executor exited without recording the task's exit; killing the task"
                );
                self.signal_group(Signal::SIGKILL);
                ExitResult {
                    exit_code: -1,
                    signal: 0,
                }
            }
        };
        // An executor killed before it removed the cgroup leaves it (and maybe
        // processes that left the group) behind; nobody else will. Freezing, killing
        // and waiting for the cgroup to empty blocks: off the runtime.
        if let Some(cgroup) = self.cgroup.clone() {
            let removed = tokio::task::spawn_blocking(move || {
                if cgroup.exists() {
                    cgroup.destroy()
                } else {
                    Ok(())
                }
            })
            .await;
            if let Ok(Err(error)) = removed {
                tracing::warn!(%error, "failed to remove the task's cgroup");
            }
        }
        self.exited = Some(result);
        result
    }

    /// Sends a signal to every process of the task. Nothing is sent once the leader is
    /// gone or its PID belongs to another process (the executor cleans up the group).
    pub fn signal_group(&self, signal: Signal) {
        // PID 0 would be the agent's own process group.
        if matches!(self.supervisor, Supervisor::External(_)) || self.pid <= 0 {
            return;
        }
        let alive = if self.start_time == 0 {
            process_alive(self.pid)
        } else {
            same_process_alive(self.pid, self.start_time)
        };
        if self.exited.is_some() || !alive {
            return;
        }
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
        // A handle dropped without a stop means the agent is going away. A dev agent's
        // tasks go with it; any other agent's keep running under their executors and are
        // re-attached when it starts again.
        if self.kill_on_drop && self.exited.is_none() {
            self.signal_group(Signal::SIGKILL);
        }
    }
}

/// Waits until the process `pid` (started at `start_time`) has exited, whether or not it
/// is our child: a pidfd when the kernel has them (5.3+), else polling `/proc`.
async fn wait_for_exit(pid: i32, start_time: u64) {
    if let Some(pidfd) = pidfd_open(pid) {
        // Opened after the check would race with PID reuse; check after opening.
        if !same_process_alive(pid, start_time) {
            return;
        }
        // SAFETY: the AsyncFd owns the OwnedFd, which stays open until it is dropped.
        if let Ok(fd) = unsafe { AsyncFd::register(pidfd) } {
            // A pidfd turns readable when the process exits.
            let _ = fd.readable().await;
            return;
        }
    }
    while same_process_alive(pid, start_time) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a PID and flags and returns a new file descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just returned to us and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
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
