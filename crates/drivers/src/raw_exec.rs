//! `raw_exec`: runs a host command with no isolation, as the agent's user.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use caravan_structs::Task;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;

use crate::cgroups::Hierarchy;
use crate::executor::{
    EXIT_FILE, ExecutorCommand, ExecutorSpec, ExitRecord, OUTPUT_FILE, SPEC_FILE, TASK_FILE,
    TaskRecord, read_json, recorded_cgroup, same_process_alive, write_json_atomic,
};
use crate::process::parse_signal;
use crate::{DriverError, TaskLaunch, TaskProcess};

/// How long a new executor may take to report its task's PID.
const EXECUTOR_START_TIMEOUT: Duration = Duration::from_secs(30);

/// The `raw_exec` driver. Off unless the agent enables it (`plugin "raw_exec" { config {
/// enabled = true } }`, or `-dev`). Every task runs under its own executor process
/// ([`crate::executor`]), so tasks outlive an agent restart and are found again with
/// [`RawExecDriver::recover`].
#[derive(Debug, Clone)]
pub struct RawExecDriver {
    executor: ExecutorCommand,
    /// Where each task gets a cgroup to track its processes; `None` where the agent
    /// cannot make cgroups (not root, none mounted): tasks then run without one.
    hierarchy: Option<Hierarchy>,
}

/// Reads `command`, `args` and `work_dir` from a task's `config` block.
pub fn launch_from_config(
    task: &Task,
) -> Result<(String, Vec<String>, Option<String>), DriverError> {
    let command = match task.config.get("command") {
        Some(serde_json::Value::String(command)) if !command.is_empty() => command.clone(),
        Some(_) => {
            return Err(DriverError::InvalidConfig(
                "\"command\" must be a non-empty string".into(),
            ));
        }
        None => {
            return Err(DriverError::InvalidConfig(
                "missing required field \"command\"".into(),
            ));
        }
    };
    let args = match task.config.get("args") {
        None => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Ok(s.clone()),
                serde_json::Value::Number(n) => Ok(n.to_string()),
                serde_json::Value::Bool(b) => Ok(b.to_string()),
                other => Err(DriverError::InvalidConfig(format!(
                    "\"args\" must be a list of strings, got {other}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(DriverError::InvalidConfig(format!(
                "\"args\" must be a list of strings, got {other}"
            )));
        }
    };
    let work_dir = match task.config.get("work_dir") {
        None => None,
        Some(serde_json::Value::String(dir)) => Some(dir.clone()),
        Some(other) => {
            return Err(DriverError::InvalidConfig(format!(
                "\"work_dir\" must be a string, got {other}"
            )));
        }
    };
    Ok((command, args, work_dir))
}

/// Finds the program like Nomad's executor: an absolute path as is, else the task's
/// `local/` and task directory, else `PATH`.
fn resolve_command(
    command: &str,
    task_dir: &Path,
    path_var: Option<&str>,
) -> Result<PathBuf, DriverError> {
    let not_found = |reason: &str| DriverError::CommandNotFound {
        command: command.to_string(),
        reason: reason.into(),
    };
    let candidate = Path::new(command);
    if candidate.is_absolute() {
        return if candidate.exists() {
            Ok(candidate.to_path_buf())
        } else {
            Err(not_found("no such file"))
        };
    }
    for dir in [task_dir.join("local"), task_dir.to_path_buf()] {
        let path = dir.join(command);
        if path.is_file() {
            return Ok(path);
        }
    }
    if command.contains('/') {
        return Err(not_found("no such file in the task directory"));
    }
    for dir in path_var
        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .split(':')
    {
        let path = Path::new(dir).join(command);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(not_found("not in the task directory or PATH"))
}

impl RawExecDriver {
    /// A driver that supervises its tasks with `executor`.
    pub fn new(executor: ExecutorCommand) -> RawExecDriver {
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        RawExecDriver {
            executor,
            hierarchy: root.then(|| Hierarchy::discover().ok()).flatten(),
        }
    }

    /// How this driver launches executors.
    pub fn executor(&self) -> &ExecutorCommand {
        &self.executor
    }

    /// Starts the task, under a new executor, as the leader of a new process group, and
    /// returns once the executor has recorded the task's PID.
    pub async fn start(&self, launch: &TaskLaunch) -> Result<TaskProcess, DriverError> {
        let program = resolve_command(
            &launch.command,
            &launch.task_dir,
            launch.env.get("PATH").map(String::as_str),
        )?;
        let mut spec = prepare_executor_spec(&self.executor, launch, program.clone())?;
        // Nomad's raw_exec puts each task in a cgroup where it can, so that processes
        // that leave the task's process group still die with it.
        spec.cgroup = self.hierarchy.as_ref().and_then(|hierarchy| {
            hierarchy
                .create_tracking(&launch.cgroup_name())
                .map_err(|error| {
                    tracing::warn!(%error, "raw_exec: running the task without a cgroup");
                })
                .ok()
        });
        match start_executor(&self.executor, &spec, &program).await {
            Ok(process) => Ok(match spec.cgroup {
                Some(cgroup) => process.with_cgroup(cgroup),
                None => process,
            }),
            Err(error) => {
                // The executor removes the cgroup itself once it runs; not if it never did.
                if let Some(cgroup) = &spec.cgroup {
                    let _ = cgroup.destroy();
                }
                Err(error)
            }
        }
    }

    /// Finds a task again from its executor's state directory, after an agent restart.
    ///
    /// A live task (its PID alive with the recorded start time, so not a reused PID) gets a
    /// handle whose [`TaskProcess::wait`] resolves when it exits; a task that exited while
    /// no agent watched gets a handle that returns the recorded exit. An error means there
    /// is nothing to re-attach to (nothing recorded, the task is gone without a recorded
    /// exit, or its executor is gone; a task left without an executor is killed).
    pub fn recover(&self, state_dir: &Path) -> Result<TaskProcess, DriverError> {
        recover_with_cgroup(&self.executor, state_dir)
    }
}

/// Re-attaches to a task and, when its spec recorded one, its cgroup (both drivers).
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

/// Writes nothing yet: checks the log files, clears the state directory of an earlier
/// run's records and returns the executor's spec for `program`.
pub(crate) fn prepare_executor_spec(
    executor: &ExecutorCommand,
    launch: &TaskLaunch,
    program: PathBuf,
) -> Result<ExecutorSpec, DriverError> {
    // Opened here as well so a bad log path is this start's error, not the executor's.
    for path in [&launch.stdout_path, &launch.stderr_path] {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| DriverError::LogFile {
                path: path.display().to_string(),
                source,
            })?;
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
    Ok(ExecutorSpec {
        command: program,
        args: launch.args.clone(),
        env: launch.env.clone(),
        cwd: launch
            .work_dir
            .clone()
            .unwrap_or_else(|| launch.task_dir.clone()),
        stdout_path: launch.stdout_path.clone(),
        stderr_path: launch.stderr_path.clone(),
        state_dir: state_dir.clone(),
        agent_pid: std::process::id() as i32,
        die_with_agent: executor.die_with_agent,
        kill_signal: kill_signal as i32,
        kill_timeout_ms: launch.kill_timeout.as_millis() as u64,
        isolation: None,
        cgroup: None,
        oom_score_adj: crate::executor::oom_score_adj(&launch.config),
    })
}

/// Writes the spec, spawns `caravan executor <spec>` in a session of its own, and waits
/// until the executor records the task's PID (or why it could not start `program`).
pub(crate) async fn start_executor(
    executor: &ExecutorCommand,
    spec: &ExecutorSpec,
    program: &Path,
) -> Result<TaskProcess, DriverError> {
    let state_dir = &spec.state_dir;
    let executor_error = |reason: String| DriverError::Executor {
        state_dir: state_dir.display().to_string(),
        reason,
    };
    let spec_path = state_dir.join(SPEC_FILE);
    write_json_atomic(&spec_path, spec).map_err(|e| executor_error(e.to_string()))?;
    let output = OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join(OUTPUT_FILE))
        .map_err(|e| executor_error(e.to_string()))?;
    let output_err = output
        .try_clone()
        .map_err(|e| executor_error(e.to_string()))?;
    let mut command = Command::new(&executor.program);
    command
        .args(&executor.args)
        .arg(&spec_path)
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
        if let Some(record) = read_json::<TaskRecord>(&state_dir.join(TASK_FILE)) {
            if let Some(reason) = record.error {
                let _ = child.wait().await;
                return Err(DriverError::Spawn {
                    command: program.display().to_string(),
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

/// Finds a task again from its executor's state directory (see
/// [`RawExecDriver::recover`]); any driver's tasks.
pub(crate) fn recover_task(
    executor: &ExecutorCommand,
    state_dir: &Path,
) -> Result<TaskProcess, DriverError> {
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
