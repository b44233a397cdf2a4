//! The [`Driver`] trait: what the client asks of a task driver (Nomad's `DriverPlugin`).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use caravan_structs::DriverInfo;
use caravan_structs::driver_schema::DriverSchema;
use nix::sys::signal::Signal;

use crate::stats::Sample;
use crate::task_exec::{ExecRequest, ExecSession};
use crate::{DriverError, ExitResult, TaskLaunch, TaskProcess};

/// A boxed future a driver answers with (the trait is used as `dyn Driver`).
pub type DriverFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a driver isolates a task's filesystem (Nomad's `FSIsolation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FsIsolation {
    /// The task sees the host's filesystem (`raw_exec`).
    #[default]
    None,
    /// The task directory is the task's `/`: it sees its directories as `/alloc`,
    /// `/local` and `/secrets` (`exec`).
    Chroot,
    /// The task runs in its own image with its directories mounted at `/alloc`,
    /// `/local` and `/secrets` (`docker`).
    Image,
}

impl FsIsolation {
    /// Whether the task sees its directories at `/alloc`, `/local` and `/secrets`
    /// rather than at their host paths.
    pub fn sees_task_dirs_inside(self) -> bool {
        matches!(self, FsIsolation::Chroot | FsIsolation::Image)
    }
}

/// What a driver supports, which decides how the client prepares its tasks (Nomad's
/// `drivers.Capabilities`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCapabilities {
    /// Tasks can be sent signals.
    pub send_signals: bool,
    /// Commands can be run inside a running task ([`Driver::exec`]).
    pub exec: bool,
    /// Which paths the task sees: the client sets `NOMAD_TASK_DIR` and friends, and
    /// interpolates the task's config and templates, with those.
    pub fs_isolation: FsIsolation,
    /// The user a task runs as when it names none (`exec`: `nobody`); the client's user
    /// rules check that user.
    pub default_user: Option<&'static str>,
    /// The signal that stops a task whose `kill_signal` is unset (Nomad: SIGINT, but
    /// SIGTERM for docker); `None` is SIGINT.
    pub default_kill_signal: Option<&'static str>,
}

/// A task driver. The client finds drivers by name in a [`crate::DriverRegistry`] and
/// never looks at a driver's name to decide anything else: what differs between drivers
/// is in [`Driver::capabilities`].
///
/// Methods that read or write files ([`Driver::recover`], [`Driver::stats`]) block:
/// callers on an async runtime run them with `spawn_blocking`. [`Driver::start`] does
/// its blocking preparation off the runtime itself.
pub trait Driver: Send + Sync + std::fmt::Debug {
    /// The name tasks give in `driver = "..."`.
    fn name(&self) -> &'static str;

    /// The driver's health on this machine, as the node reports it (`Drivers` and the
    /// `driver.<name>` attribute when detected and healthy).
    fn fingerprint(&self) -> DriverInfo;

    /// The keys of the task `config` block it reads, checked by the servers at submit.
    fn config_schema(&self) -> DriverSchema;

    /// What it supports.
    fn capabilities(&self) -> DriverCapabilities;

    /// Starts a task: decodes its config, starts it under a new executor and answers
    /// once it runs. The launch's config is already interpolated.
    fn start<'a>(
        &'a self,
        launch: &'a TaskLaunch,
    ) -> DriverFuture<'a, Result<TaskProcess, DriverError>>;

    /// Finds a task started by an earlier agent again, from its executor's state
    /// directory (blocking).
    fn recover(&self, state_dir: &Path) -> Result<TaskProcess, DriverError>;

    /// Stops a task: `signal` to the whole task, SIGKILL after `timeout`. Answers how
    /// it ended and whether it had to be force-killed.
    fn stop<'a>(
        &'a self,
        task: &'a mut TaskProcess,
        signal: Signal,
        timeout: Duration,
    ) -> DriverFuture<'a, (ExitResult, bool)>;

    /// Sends a signal to every process of the task.
    fn signal(&self, task: &TaskProcess, signal: Signal) -> Result<(), DriverError>;

    /// Sends a signal to the running task recorded in `state_dir`, for the signals users
    /// send (`alloc signal`) without the task runner's handle; `false` when it does not
    /// run (blocking).
    fn signal_recorded(&self, state_dir: &Path, signal: Signal) -> bool {
        crate::launch::signal_recorded_task(state_dir, signal)
    }

    /// Starts a command inside the running task recorded in `state_dir` (`alloc exec`):
    /// in its namespaces, root, cgroup and environment, as its user. The command's
    /// streams are the caller's; it ends when it exits or the session is dropped.
    fn exec<'a>(
        &'a self,
        state_dir: &'a Path,
        request: ExecRequest,
    ) -> DriverFuture<'a, Result<ExecSession, DriverError>>;

    /// A reading of a running task's resource counters, from its executor's state
    /// directory; `None` when it does not run (blocking).
    fn stats(&self, state_dir: &Path) -> Option<Sample>;
}

/// The [`Driver`] methods every driver whose tasks are process groups run by Caravan's
/// executor shares (raw_exec, exec): `start` decodes the task config as `$config` and
/// calls the driver's own `start_task`; `recover` re-attaches through the executor's
/// state; `stop` and `signal` act on the process group; `exec` starts a command inside the task ([`crate::task_exec`]);
/// `stats` are the executor's cgroup samples. The driver has an `executor` field and a
/// `NAME` constant.
macro_rules! executor_task_methods {
    ($config:ty) => {
        fn start<'a>(
            &'a self,
            launch: &'a TaskLaunch,
        ) -> DriverFuture<'a, Result<TaskProcess, DriverError>> {
            Box::pin(async move {
                let config: $config = decode(&launch.config)?;
                self.start_task(launch, &config).await
            })
        }

        fn recover(&self, state_dir: &Path) -> Result<TaskProcess, DriverError> {
            crate::launch::recover_with_cgroup(&self.executor, state_dir)
        }

        fn stop<'a>(
            &'a self,
            task: &'a mut TaskProcess,
            signal: Signal,
            timeout: Duration,
        ) -> DriverFuture<'a, (ExitResult, bool)> {
            Box::pin(task.stop(signal, timeout))
        }

        fn signal(&self, task: &TaskProcess, signal: Signal) -> Result<(), DriverError> {
            task.signal_group(signal);
            Ok(())
        }

        fn exec<'a>(
            &'a self,
            state_dir: &'a Path,
            request: crate::task_exec::ExecRequest,
        ) -> DriverFuture<'a, Result<crate::task_exec::ExecSession, DriverError>> {
            Box::pin(crate::task_exec::start(state_dir.to_path_buf(), request))
        }

        fn stats(&self, state_dir: &Path) -> Option<Sample> {
            crate::stats::sample(state_dir)
        }
    };
}
pub(crate) use executor_task_methods;
