//! Task drivers: how a task's process is started, watched and stopped.
//!
//! Every driver starts the task as the leader of its own process group and stops it by
//! signalling the whole group, then SIGKILL after the kill timeout. When the leader exits
//! on its own, whatever it left behind in its group is killed too: no task process ever
//! outlives its task.

pub mod process;
pub mod raw_exec;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use process::{ExitResult, TaskProcess};
pub use raw_exec::RawExecDriver;

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
}
