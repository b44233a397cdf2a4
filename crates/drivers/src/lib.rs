//! Task drivers: how a task's process is started, watched and stopped.
//!
//! A client reaches its drivers through the [`Driver`] trait, by name, in a
//! [`DriverRegistry`] the binary builds from the agent configuration. Each driver owns
//! its task config: the schema the servers check at submit ([`Driver::config_schema`])
//! and the typed config it decodes at start ([`RawExecTaskConfig`], [`ExecTaskConfig`]).
//!
//! Every task runs under an executor process of its own ([`executor`], `caravan
//! executor`), which starts the task as the leader of its own process group, records
//! its PID and later its exit in a state directory, and kills whatever the leader left
//! behind in its group: no task process ever outlives its task. Stopping signals the
//! whole group, then SIGKILL after the kill timeout. Because the executor, not the
//! agent, parents the task, an agent that restarts re-attaches to its running tasks
//! ([`Driver::recover`]).
//!
//! `exec` ([`ExecDriver`]) runs the same executor, which isolates the task first:
//! namespaces, a chroot, a cgroup with the task's limits ([`container`], [`cgroups`]).
//! `java` ([`JavaDriver`]) is `exec` with a JVM as the program.

pub mod cgroups;
pub mod chroot;
pub mod container;
pub mod docker;
pub mod driver;
pub mod exec;
pub mod executor;
pub mod host_path;
pub mod java;
pub mod launch;
pub mod linux_caps;
pub mod log_rotation;
pub mod proc_stat;
pub mod process;
pub mod raw_exec;
pub mod registry;
pub mod seccomp;
pub mod stats;
pub mod task_config;
pub mod task_exec;
mod task_output;
#[cfg(test)]
mod tests;

pub use docker::{DockerDriver, DockerPluginConfig, DockerTaskConfig};
pub use driver::{Driver, DriverCapabilities, DriverFuture, FsIsolation};
pub use exec::{ExecConfig, ExecDriver, ExecTaskConfig};
pub use executor::ExecutorCommand;
pub use java::{JavaDriver, JavaTaskConfig};
pub use launch::{TaskLaunch, TaskMount};
pub use log_rotation::{RotatingLog, TaskLogs};
pub use process::{ExitResult, ExternalTask, TaskProcess};
pub use raw_exec::{RawExecDriver, RawExecTaskConfig};
pub use registry::DriverRegistry;
pub use task_exec::{ExecRequest, ExecSession};

/// Why a driver could not do what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The task's `config` block is missing something or has a wrong value.
    #[error("invalid task config: {0}")]
    InvalidConfig(String),
    /// The agent did not enable the driver.
    #[error("driver \"{driver}\" is disabled on this client")]
    Disabled { driver: &'static str },
    /// The driver could not be set up on this client (its plugin block was invalid).
    #[error("driver \"{driver}\" is not available on this client")]
    Unavailable { driver: &'static str },
    /// The driver cannot do this (yet).
    #[error("driver \"{driver}\" does not support {operation}")]
    NotSupported {
        driver: &'static str,
        operation: &'static str,
    },
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
    /// The task does not run (`alloc exec` into it).
    #[error("task is not running")]
    NotRunning,
    /// A command could not be prepared to run inside the task.
    #[error("failed to exec into the task: {0}")]
    Exec(String),
    /// The container engine could not do what was asked (its own words follow).
    #[error("{0}")]
    Engine(String),
    /// There is no task to re-attach to.
    #[error("cannot re-attach to the task recorded in {state_dir}: {reason}")]
    Recover { state_dir: String, reason: String },
}
