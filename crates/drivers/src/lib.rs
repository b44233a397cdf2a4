//! Task drivers: how a task's process is started, watched and stopped.
//!
//! Every task runs under an executor process of its own ([`executor`], `caravan
//! executor`), which starts the task as the leader of its own process group, records
//! its PID and later its exit in a state directory, and kills whatever the leader left
//! behind in its group: no task process ever outlives its task. Stopping signals the
//! whole group, then SIGKILL after the kill timeout. Because the executor, not the
//! agent, parents the task, an agent that restarts re-attaches to its running tasks
//! ([`RawExecDriver::recover`]).
//!
//! `exec` ([`ExecDriver`]) runs the same executor, which isolates the task first:
//! namespaces, a chroot, a cgroup with the task's limits ([`container`], [`cgroups`]).

pub mod cgroups;
pub mod chroot;
pub mod container;
pub mod exec;
pub mod executor;
pub mod host_path;
pub mod process;
pub mod raw_exec;
pub mod seccomp;
pub mod stats;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use exec::{ExecConfig, ExecDriver};
pub use executor::ExecutorCommand;
pub use process::{ExitResult, TaskProcess};
pub use raw_exec::RawExecDriver;

/// The task drivers of a client, dispatched on a task's `driver`.
#[derive(Debug, Clone)]
pub struct Drivers {
    pub raw_exec: RawExecDriver,
    /// `None` when the agent could not configure it (its plugin block was invalid).
    pub exec: Option<ExecDriver>,
}

impl Drivers {
    /// Both drivers, their tasks under executors started by `executor`.
    pub fn new(executor: ExecutorCommand, exec: Option<ExecConfig>) -> Drivers {
        Drivers {
            raw_exec: RawExecDriver::new(executor.clone()),
            exec: exec.map(|config| ExecDriver::new(executor, config)),
        }
    }

    /// How the drivers launch executors.
    pub fn executor(&self) -> &ExecutorCommand {
        self.raw_exec.executor()
    }
}

/// Everything a driver needs to start one task.
#[derive(Debug, Clone, Default)]
pub struct TaskLaunch {
    /// Program to run: absolute, relative to the task directory, or looked up in `PATH`.
    pub command: String,
    pub args: Vec<String>,
    /// The complete environment of the task.
    pub env: BTreeMap<String, String>,
    /// The task directory; the process starts there.
    pub task_dir: PathBuf,
    /// Working directory, if the task config sets `work_dir`.
    pub work_dir: Option<PathBuf>,
    /// Files the task's stdout and stderr are appended to.
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    /// The executor's state directory (`task.json`, `exit.json`), kept across agent
    /// restarts: what [`RawExecDriver::recover`] reads.
    pub state_dir: PathBuf,
    /// The task's `kill_signal` and kill timeout, for an executor that stops its task
    /// itself when its agent is gone (`die_with_agent`).
    pub kill_signal: String,
    pub kill_timeout: Duration,
    /// The allocation and task, naming the task's cgroup (`exec`).
    pub alloc_id: String,
    pub task_name: String,
    /// The task's `user` (`exec` runs as `nobody` when empty).
    pub user: String,
    /// The task's resources, enforced through its cgroup (`exec`).
    pub resources: caravan_structs::Resources,
    /// The task's whole `config` block, for driver-specific keys.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The allocation's shared `alloc/` directory, mounted at `/alloc` (`exec`).
    pub alloc_dir: PathBuf,
    /// The group's `network` mode (`host`, `none`), `None` without a network block.
    pub network_mode: Option<String>,
}

impl TaskLaunch {
    /// The name of the task's cgroup: `<alloc_id>.<task>` (Nomad's). The cgroup code
    /// joins it under Nomad's parent cgroup through [`host_path::join_name`].
    pub fn cgroup_name(&self) -> String {
        format!("{}.{}", self.alloc_id, self.task_name)
    }
}

/// Why a driver could not start a task.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The task's `config` block is missing something or has a wrong value.
    #[error("invalid task config: {0}")]
    InvalidConfig(String),
    /// The program could not be found.
    #[error("failed to find command \"{command}\": {reason}")]
    CommandNotFound { command: String, reason: String },
    /// Opening a log file failed.
    #[error("failed to open log file {path}: {source}")]
    LogFile {
        path: String,
        source: std::io::Error,
    },
    /// The process could not be started.
    #[error("failed to start command \"{command}\": {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    /// The executor could not be prepared or did not start the task.
    #[error("executor in {state_dir}: {reason}")]
    Executor { state_dir: String, reason: String },
    /// There is no task to re-attach to.
    #[error("cannot re-attach to the task recorded in {state_dir}: {reason}")]
    Recover { state_dir: String, reason: String },
}
