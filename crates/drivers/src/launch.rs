//! What every task start needs ([`TaskLaunch`]), and the executor handling both drivers
//! share: preparing the executor's spec, spawning `caravan executor`, waiting for it to
//! report the task's PID, and finding a task again after an agent restart.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;

use crate::executor::{
    EXIT_FILE, ExecutorCommand, ExecutorSpec, ExitRecord, OUTPUT_FILE, SPEC_FILE, TASK_FILE,
    TaskRecord, read_json, recorded_cgroup, same_process_alive, write_json_atomic,
};
use crate::log_rotation::TaskLogs;
use crate::process::parse_signal;
use crate::task_config::remove_denied_envvars;
use crate::{DriverError, TaskProcess};

/// How long a new executor may take to report its task's PID.
const EXECUTOR_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a driver needs to start one task, whatever the driver.
#[derive(Debug, Clone, Default)]
pub struct TaskLaunch {
    /// The task's `config` block, interpolated; each driver decodes its own typed
    /// config from it.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The complete environment of the task.
    pub env: BTreeMap<String, String>,
    /// The task directory; the process starts there.
    pub task_dir: PathBuf,
    /// Where the task's stdout and stderr go (`alloc/logs/<task>.<stream>.<N>`) and
    /// how they are rotated: the task's `logs` block.
    pub logs: TaskLogs,
    /// The executor's state directory (`task.json`, `exit.json`), kept across agent
    /// restarts: what [`crate::Driver::recover`] reads.
    pub state_dir: PathBuf,
    /// The task's `kill_signal` and kill timeout, for an executor that stops its task
    /// itself when its agent is gone (`die_with_agent`).
    pub kill_signal: String,
    pub kill_timeout: Duration,
    /// The allocation and task, naming the task's cgroup.
    pub alloc_id: String,
    pub task_name: String,
    /// The task's `user` (`exec` runs as `nobody` when empty).
    pub user: String,
    /// The task's resources, enforced through its cgroup (`exec`).
    pub resources: caravan_structs::Resources,
    /// The allocation's shared `alloc/` directory, mounted at `/alloc` (`exec`).
    pub alloc_dir: PathBuf,
    /// The group's `network` mode (`host`, `none`), `None` without a network block.
    pub network_mode: Option<String>,
    /// Host directories the task sees at its own paths (the group's host volumes
    /// through the task's `volume_mount` blocks), bound by the driver.
    pub mounts: Vec<TaskMount>,
    /// Where a driver reports progress the user should see while it starts the task
    /// (Nomad's `Driver` task events, e.g. "Downloading image"); `None` drops them.
    pub driver_events: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

/// A host directory a task sees at `task_path` (Nomad's `drivers.MountConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMount {
    /// The directory on the host.
    pub host_path: PathBuf,
    /// Where the task sees it: absolute, or relative to the task directory.
    pub task_path: String,
    /// The task may not write to it.
    pub read_only: bool,
}

impl TaskLaunch {
    /// The name of the task's cgroup: `<alloc_id>.<task>` (Nomad's). The cgroup code
    /// joins it under Nomad's parent cgroup through [`crate::host_path::join_name`].
    pub fn cgroup_name(&self) -> String {
        format!("{}.{}", self.alloc_id, self.task_name)
    }
}

/// What the executor runs, as the driver resolved it from its typed config.
pub(crate) struct Program<'a> {
    /// The program, resolved to a path (inside the chroot for `exec`).
    pub path: PathBuf,
    pub args: Vec<String>,
    /// Where it starts.
    pub cwd: PathBuf,
    /// `oom_score_adj`, 0 for the kernel's default.
    pub oom_score_adj: u16,
    /// `denied_envvars`: taken out of the task's environment.
    pub denied_envvars: &'a [String],
}

/// Checks the log files, clears the state directory of an earlier run's records and
/// returns the executor's spec for `program` (blocking).
pub(crate) fn prepare_executor_spec(
    executor: &ExecutorCommand,
    launch: &TaskLaunch,
    program: Program<'_>,
) -> Result<ExecutorSpec, DriverError> {
    // Opened here as well so a bad log path is this start's error, not the executor's.
    if !launch.logs.disabled {
        for stream in ["stdout", "stderr"] {
            launch
                .logs
                .open(stream)
                .map_err(|source| DriverError::LogFile {
                    path: launch
                        .logs
                        .dir
                        .join(format!("{}.{stream}.*", launch.logs.task))
                        .display()
                        .to_string(),
                    source,
                })?;
        }
    }
    let state_dir = &launch.state_dir;
    let executor_error = |reason: String| DriverError::Executor {
        state_dir: state_dir.display().to_string(),
        reason,
    };
    std::fs::create_dir_all(state_dir).map_err(|e| executor_error(e.to_string()))?;
    // A record left by an earlier run of this task must not be taken for this one.
    for stale in [TASK_FILE, EXIT_FILE] {
        let _ = std::fs::remove_file(state_dir.join(stale));
    }
    let kill_signal = parse_signal(&launch.kill_signal).unwrap_or(Signal::SIGINT);
    let mut env = launch.env.clone();
    remove_denied_envvars(&mut env, program.denied_envvars);
    Ok(ExecutorSpec {
        command: program.path,
        args: program.args,
        env,
        cwd: program.cwd,
        logs: launch.logs.clone(),
        state_dir: state_dir.clone(),
        agent_pid: std::process::id() as i32,
        die_with_agent: executor.die_with_agent,
        kill_signal: kill_signal as i32,
        kill_timeout_ms: launch.kill_timeout.as_millis() as u64,
        isolation: None,
        cgroup: None,
        oom_score_adj: program.oom_score_adj,
    })
}

/// The executor's spec, written, and the files its own output goes to (blocking).
pub(crate) struct WrittenSpec {
    spec: ExecutorSpec,
    path: PathBuf,
    output: File,
}

impl WrittenSpec {
    /// Writes `spec` into its state directory and opens the executor's output file.
    pub(crate) fn write(spec: ExecutorSpec) -> Result<WrittenSpec, DriverError> {
        let executor_error = |reason: String| DriverError::Executor {
            state_dir: spec.state_dir.display().to_string(),
            reason,
        };
        let path = spec.state_dir.join(SPEC_FILE);
        write_json_atomic(&path, &spec).map_err(|e| executor_error(e.to_string()))?;
        let output = OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec.state_dir.join(OUTPUT_FILE))
            .map_err(|e| executor_error(e.to_string()))?;
        Ok(WrittenSpec { spec, path, output })
    }

    /// The spec as written.
    pub(crate) fn spec(&self) -> &ExecutorSpec {
        &self.spec
    }
}

/// Spawns `caravan executor <spec>` in a session of its own, and waits until the
/// executor records the task's PID (or why it could not start the program).
pub(crate) async fn start_executor(
    executor: &ExecutorCommand,
    written: WrittenSpec,
) -> Result<TaskProcess, DriverError> {
    let WrittenSpec { spec, path, output } = written;
    let state_dir = &spec.state_dir;
    let executor_error = |reason: String| DriverError::Executor {
        state_dir: state_dir.display().to_string(),
        reason,
    };
    let output_err = output
        .try_clone()
        .map_err(|e| executor_error(e.to_string()))?;
    let mut command = Command::new(&executor.program);
    command
        .args(&executor.args)
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(output_err)
        .kill_on_drop(false);
    // SAFETY: setsid is async-signal-safe. A session of its own keeps the executor
    // (and its task) out of reach of the agent's terminal and process group.
    unsafe {
        command.as_std_mut().pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|source| DriverError::Spawn {
        command: executor.program.display().to_string(),
        source,
    })?;
    let started = Instant::now();
    loop {
        // A few hundred bytes from a local file: cheap enough to read in place.
        if let Some(record) = read_json::<TaskRecord>(&state_dir.join(TASK_FILE)) {
            if let Some(reason) = record.error {
                let _ = child.wait().await;
                return Err(DriverError::Spawn {
                    command: spec.command.display().to_string(),
                    source: std::io::Error::other(reason),
                });
            }
            return Ok(TaskProcess::spawned(
                record.pid,
                record.start_time,
                state_dir.clone(),
                child,
                executor.die_with_agent,
            ));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let output = std::fs::read_to_string(state_dir.join(OUTPUT_FILE)).unwrap_or_default();
            return Err(executor_error(format!(
                "executor exited ({status}) before starting the task: {}",
                output.trim()
            )));
        }
        if started.elapsed() > EXECUTOR_START_TIMEOUT {
            let _ = child.kill().await;
            return Err(executor_error(
                "executor did not start the task within 30s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Starts a prepared spec under a new executor; removes the task's cgroup again when the
/// executor never ran (it removes the cgroup itself once it runs).
pub(crate) async fn start_prepared(
    executor: &ExecutorCommand,
    written: WrittenSpec,
) -> Result<TaskProcess, DriverError> {
    let cgroup = written.spec().cgroup.clone();
    match start_executor(executor, written).await {
        Ok(process) => Ok(match cgroup {
            Some(cgroup) => process.with_cgroup(cgroup),
            None => process,
        }),
        Err(error) => {
            if let Some(cgroup) = cgroup {
                let _ = tokio::task::spawn_blocking(move || cgroup.destroy()).await;
            }
            Err(error)
        }
    }
}

/// Runs a driver's blocking preparation off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    state_dir: &Path,
    work: impl FnOnce() -> Result<T, DriverError> + Send + 'static,
) -> Result<T, DriverError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| {
            Err(DriverError::Executor {
                state_dir: state_dir.display().to_string(),
                reason: format!("preparing the task failed: {error}"),
            })
        })
}

/// Re-attaches to a task and, when its spec recorded one, its cgroup (any driver's).
pub(crate) fn recover_with_cgroup(
    executor: &ExecutorCommand,
    state_dir: &Path,
) -> Result<TaskProcess, DriverError> {
    let process = recover_task(executor, state_dir)?;
    Ok(match recorded_cgroup(state_dir) {
        Some(cgroup) => process.with_cgroup(cgroup),
        None => process,
    })
}

/// Finds a task again from its executor's state directory (see
/// [`crate::Driver::recover`]).
///
/// A live task (its PID alive with the recorded start time, so not a reused PID) gets a
/// handle whose [`TaskProcess::wait`] resolves when it exits; a task that exited while
/// no agent watched gets a handle that returns the recorded exit. An error means there
/// is nothing to re-attach to (nothing recorded, the task is gone without a recorded
/// exit, or its executor is gone; a task left without an executor is killed).
fn recover_task(executor: &ExecutorCommand, state_dir: &Path) -> Result<TaskProcess, DriverError> {
    let fail = |reason: String| DriverError::Recover {
        state_dir: state_dir.display().to_string(),
        reason,
    };
    let record: TaskRecord = read_json(&state_dir.join(TASK_FILE))
        .ok_or_else(|| fail("no task record (task.json)".into()))?;
    if let Some(reason) = record.error {
        return Err(fail(format!("the task never started: {reason}")));
    }
    let recorded_exit = || {
        read_json::<ExitRecord>(&state_dir.join(EXIT_FILE))
            .map(|exit| TaskProcess::finished(record.pid, state_dir.to_path_buf(), exit))
    };
    if let Some(finished) = recorded_exit() {
        return Ok(finished);
    }
    if same_process_alive(record.executor_pid, record.executor_start_time) {
        // Its executor is watching the task (or recording its exit right now).
        return Ok(TaskProcess::reattached(
            record.pid,
            record.start_time,
            state_dir.to_path_buf(),
            (record.executor_pid, record.executor_start_time),
            executor.die_with_agent,
        ));
    }
    // The executor may have recorded the exit and left between the two checks.
    if let Some(finished) = recorded_exit() {
        return Ok(finished);
    }
    if same_process_alive(record.pid, record.start_time) {
        // Nobody could ever report this task's exit: do not leave it running.
        let _ = killpg(Pid::from_raw(record.pid), Signal::SIGKILL);
        return Err(fail(format!(
            "the executor (pid {}) is gone; killed the unsupervised task (pid {})",
            record.executor_pid, record.pid
        )));
    }
    Err(fail(format!(
        "task (pid {}, start time {}) is not running and no exit was recorded",
        record.pid, record.start_time
    )))
}

/// Sends `signal` to the process group of the task recorded in `state_dir` when that
/// task still runs (its PID alive with the recorded start time, so never a reused PID);
/// `false` when it does not. For the signals users send (`alloc signal`): the task's
/// runner keeps the one handle, which must not be duplicated (a dev agent's handles
/// kill their task when dropped).
pub fn signal_recorded_task(state_dir: &Path, signal: Signal) -> bool {
    let Some(record) = read_json::<TaskRecord>(&state_dir.join(TASK_FILE)) else {
        return false;
    };
    let exited = state_dir.join(EXIT_FILE).exists();
    if record.error.is_some() || exited || !same_process_alive(record.pid, record.start_time) {
        return false;
    }
    killpg(Pid::from_raw(record.pid), signal).is_ok()
}
