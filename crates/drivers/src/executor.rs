//! The task supervisor process (Nomad's "executor"): `caravan executor <spec.json>`.
//!
//! The agent does not parent its tasks directly. For each task start it spawns one
//! executor, in a session of its own so that neither a `kill -9` of the agent nor a
//! Ctrl-C on the agent's terminal reaches it. The executor:
//!
//! 1. reads its [`ExecutorSpec`] (`<state dir>/executor.json`),
//! 2. spawns the task as the leader of a new process group, its stdout and stderr
//!    pipes that the executor copies into the rotated log files ([`crate::task_output`]),
//! 3. records the task's PID and start time in `<state dir>/task.json`,
//! 4. waits for the task, kills whatever is left in its process group, reads its output
//!    to the end,
//! 5. records the exit in `<state dir>/exit.json` and exits.
//!
//! Both records are written atomically (temporary file, then rename), so an agent that
//! restarts finds either nothing or a whole record: that is how it re-attaches
//! ([`crate::RawExecDriver::recover`]). With `die_with_agent` (dev agents, whose state is
//! in memory) the executor also watches its parent and stops the task when the agent is
//! gone.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::ExitResult;
use crate::cgroups::TaskCgroup;
use crate::container::{self, Ended, Isolation};
use crate::log_rotation::TaskLogs;
use crate::proc_stat::ProcStat;
use crate::task_output;

/// The spec file's name inside the executor's state directory.
pub const SPEC_FILE: &str = "executor.json";
/// The task record's name inside the executor's state directory.
pub const TASK_FILE: &str = "task.json";
/// The exit record's name inside the executor's state directory.
pub const EXIT_FILE: &str = "exit.json";
/// Where the executor's own stdout and stderr go.
pub const OUTPUT_FILE: &str = "executor.out";

/// How often a `die_with_agent` executor checks that its agent is still there.
const PARENT_POLL: Duration = Duration::from_millis(200);

/// What an executor runs: written by the agent, read by `caravan executor`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecutorSpec {
    /// The program, already resolved to a path.
    pub command: PathBuf,
    pub args: Vec<String>,
    /// The task's complete environment.
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    /// Where the task's output goes and how it is rotated.
    #[serde(default)]
    pub logs: TaskLogs,
    /// Where `task.json` and `exit.json` go.
    pub state_dir: PathBuf,
    /// The agent that started the executor; 0 means "my parent at startup".
    pub agent_pid: i32,
    /// Stop the task when the agent is gone (dev agents).
    pub die_with_agent: bool,
    /// The task's `kill_signal` as a number, and its kill timeout, used when the agent
    /// is gone and `die_with_agent` is set.
    pub kill_signal: i32,
    pub kill_timeout_ms: u64,
    /// Set for `exec` tasks: namespaces, chroot, user ([`crate::container`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<Isolation>,
    /// The cgroup the task runs in, created by the driver and removed by the executor
    /// with whatever is left in it: `exec`'s with its limits, `raw_exec`'s to track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<TaskCgroup>,
    /// The task config's `oom_score_adj` (0 to 1000), written for the task before it
    /// starts; 0 leaves the kernel's default.
    #[serde(default)]
    pub oom_score_adj: u16,
}

/// Writes `/proc/self/oom_score_adj` in a forked child: only async-signal-safe calls.
pub(crate) fn write_oom_score_adj(value: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: open/write/close on a NUL-terminated path and a buffer we own.
    unsafe {
        let fd = libc::open(
            c"/proc/self/oom_score_adj".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let bytes = value.to_bytes();
        let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::close(fd);
        if written != bytes.len() as isize {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The cgroup recorded in an executor's spec, if its task has one.
pub fn recorded_cgroup(state_dir: &Path) -> Option<TaskCgroup> {
    read_json::<ExecutorSpec>(&state_dir.join(SPEC_FILE))?.cgroup
}

impl ExecutorSpec {
    /// Kills what is left in the task's cgroup and removes it.
    fn destroy_cgroup(&self) {
        if let Some(cgroup) = &self.cgroup
            && let Err(error) = cgroup.destroy()
        {
            eprintln!("executor: {error}");
        }
    }
}

/// `task.json`: the running task, or why it could not start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task's PID, which is also its process group ID.
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat` (clock ticks since boot): with the PID, identifies
    /// the process across PID reuse.
    pub start_time: u64,
    pub executor_pid: i32,
    pub executor_start_time: u64,
    /// Set instead of the PIDs when the task could not be spawned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `exit.json`: how the task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub exit_code: i32,
    pub signal: i32,
    /// The kernel's OOM killer killed a process of the task's cgroup.
    #[serde(default)]
    pub oom_killed: bool,
}

impl From<ExitRecord> for ExitResult {
    fn from(record: ExitRecord) -> ExitResult {
        ExitResult {
            exit_code: record.exit_code,
            signal: record.signal,
        }
    }
}

/// How the agent launches executors: `program args... <spec.json>`.
///
/// The real agent runs its own binary (`caravan executor <spec>`); tests run their test
/// binary with a filter that selects a test calling [`test_entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Stop tasks when the agent that started them is gone: for dev agents, which keep
    /// their state in memory and cannot re-attach. Handles dropped without a stop also
    /// kill their task.
    pub die_with_agent: bool,
}

impl ExecutorCommand {
    /// `caravan executor`, using the running binary.
    pub fn current_exe(die_with_agent: bool) -> std::io::Result<ExecutorCommand> {
        Ok(ExecutorCommand {
            program: std::env::current_exe()?,
            args: vec!["executor".into()],
            die_with_agent,
        })
    }

    /// For tests: runs the current test binary with only `test_name` selected; that test
    /// must call [`test_entry`].
    pub fn test_binary(test_name: &str, die_with_agent: bool) -> ExecutorCommand {
        ExecutorCommand {
            program: std::env::current_exe()
                .expect("a test binary knows its own path (/proc/self/exe)"),
            args: vec![
                test_name.into(),
                "--exact".into(),
                "--nocapture".into(),
                "--test-threads=1".into(),
                "--quiet".into(),
            ],
            die_with_agent,
        }
    }
}

/// For tests: when this test binary was started as an executor (see
/// [`ExecutorCommand::test_binary`]), runs it and exits; otherwise returns at once.
pub fn test_entry() {
    let spec = std::env::args()
        .skip(1)
        .find(|arg| arg.ends_with(SPEC_FILE) && Path::new(arg).is_file());
    if let Some(spec) = spec {
        std::process::exit(run(&[spec]));
    }
}

/// `caravan executor <spec.json>`: supervises one task and returns the executor's exit
/// code (0 once the task's exit is recorded, whatever it was).
pub fn run(args: &[String]) -> i32 {
    let Some(spec_path) = args.last() else {
        eprintln!("usage: caravan executor <spec.json>");
        return 2;
    };
    let spec: ExecutorSpec = match std::fs::read_to_string(spec_path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(error) => {
            eprintln!("executor: cannot read spec {spec_path}: {error}");
            return 2;
        }
    };
    // Normally the agent already made us a session leader; if not (started by hand),
    // leave the caller's session so its terminal's signals do not reach us.
    let _ = nix::unistd::setsid();
    let agent_pid = if spec.agent_pid > 0 {
        spec.agent_pid
    } else {
        nix::unistd::getppid().as_raw()
    };
    match supervise(&spec, agent_pid) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("executor: {error}");
            1
        }
    }
}

fn supervise(spec: &ExecutorSpec, agent_pid: i32) -> Result<(), String> {
    if let Some(isolation) = &spec.isolation {
        return supervise_isolated(spec, isolation, agent_pid);
    }
    let task_file = spec.state_dir.join(TASK_FILE);
    let own_pid = std::process::id() as i32;
    let own_start = process_start_time(own_pid).unwrap_or(0);
    let spawned = task_output::open(&spec.logs)
        .and_then(|(ends, copies)| Ok((spawn_task(spec, ends)?, copies)));
    let (mut child, copies) = match spawned {
        Ok(spawned) => spawned,
        Err(error) => {
            spec.destroy_cgroup();
            let record = TaskRecord {
                executor_pid: own_pid,
                executor_start_time: own_start,
                error: Some(error.clone()),
                ..TaskRecord::default()
            };
            write_json_atomic(&task_file, &record).map_err(|e| e.to_string())?;
            return Err(error);
        }
    };
    let pid = child.id() as i32;
    let record = TaskRecord {
        pid,
        start_time: process_start_time(pid).unwrap_or(0),
        executor_pid: own_pid,
        executor_start_time: own_start,
        error: None,
    };
    if let Err(error) = write_json_atomic(&task_file, &record) {
        // Nobody could ever find this task: do not leave it running.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = child.wait();
        spec.destroy_cgroup();
        return Err(format!("cannot write {}: {error}", task_file.display()));
    }
    let copies = copies.start();
    if spec.die_with_agent {
        let watched = spec.clone();
        std::thread::spawn(move || watch_agent(&watched, agent_pid, pid));
    }
    let exit = match child.wait() {
        Ok(status) => match status.signal() {
            Some(signal) => ExitRecord::signaled(signal),
            None => ExitRecord::exited(status.code().unwrap_or(-1)),
        },
        Err(_) => ExitRecord::exited(-1),
    };
    // The task is over when its leader is: children it left running would be orphans.
    // The group ID cannot be reused while any member is alive, so this only hits ours;
    // the cgroup holds those that left the group (setsid, a double fork).
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    spec.destroy_cgroup();
    copies.drain();
    let exit_file = spec.state_dir.join(EXIT_FILE);
    write_json_atomic(&exit_file, &exit)
        .map_err(|e| format!("cannot write {}: {e}", exit_file.display()))
}

impl ExitRecord {
    fn exited(exit_code: i32) -> ExitRecord {
        ExitRecord {
            exit_code,
            signal: 0,
            oom_killed: false,
        }
    }

    /// Nomad's executor mirrors bash: a signalled process exits with 128 + signal.
    fn signaled(signal: i32) -> ExitRecord {
        ExitRecord {
            exit_code: 128 + signal,
            signal,
            oom_killed: false,
        }
    }
}

/// [`supervise`] for an `exec` task: starts it in its namespaces, chroot and cgroup
/// through an init process ([`crate::container`]), waits, records whether the OOM
/// killer struck, kills whatever is left in the cgroup and removes it.
fn supervise_isolated(
    spec: &ExecutorSpec,
    isolation: &Isolation,
    agent_pid: i32,
) -> Result<(), String> {
    let task_file = spec.state_dir.join(TASK_FILE);
    let own_pid = std::process::id() as i32;
    let own_start = process_start_time(own_pid).unwrap_or(0);
    let destroy_cgroup = || spec.destroy_cgroup();
    let spawned = task_output::open(&spec.logs).and_then(|(ends, copies)| {
        let started = container::spawn(spec, isolation, ends, &copies.read_fds())?;
        Ok((started, copies))
    });
    let (started, copies) = match spawned {
        Ok(spawned) => spawned,
        Err(error) => {
            destroy_cgroup();
            let record = TaskRecord {
                executor_pid: own_pid,
                executor_start_time: own_start,
                error: Some(error.clone()),
                ..TaskRecord::default()
            };
            write_json_atomic(&task_file, &record).map_err(|e| e.to_string())?;
            return Err(error);
        }
    };
    let pid = started.init_pid;
    let record = TaskRecord {
        pid,
        start_time: process_start_time(pid).unwrap_or(0),
        executor_pid: own_pid,
        executor_start_time: own_start,
        error: None,
    };
    if let Err(error) = write_json_atomic(&task_file, &record) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = started.wait();
        destroy_cgroup();
        return Err(format!("cannot write {}: {error}", task_file.display()));
    }
    let copies = copies.start();
    if spec.die_with_agent {
        let watched = spec.clone();
        std::thread::spawn(move || watch_agent(&watched, agent_pid, pid));
    }
    let mut exit = match started.wait() {
        Ended::Exited(code) => ExitRecord::exited(code),
        Ended::Signaled(signal) => ExitRecord::signaled(signal),
    };
    exit.oom_killed = spec
        .cgroup
        .as_ref()
        .is_some_and(|cgroup| cgroup.oom_kills() > 0);
    // With pid_mode = "host" leftovers outlive init: the group, then the cgroup, go.
    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    destroy_cgroup();
    copies.drain();
    let exit_file = spec.state_dir.join(EXIT_FILE);
    write_json_atomic(&exit_file, &exit)
        .map_err(|e| format!("cannot write {}: {e}", exit_file.display()))
}

/// Spawns the task with `output` as its stdout and stderr; the executor's copies of
/// those descriptors are closed when this returns.
fn spawn_task(
    spec: &ExecutorSpec,
    output: task_output::TaskEnds,
) -> Result<std::process::Child, String> {
    // Built before the fork: the child only opens and writes.
    let procs_files: Vec<std::ffi::CString> = spec
        .cgroup
        .iter()
        .flat_map(TaskCgroup::procs_files)
        .map(|path| {
            std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| format!("cgroup path {} holds a NUL", path.display()))
        })
        .collect::<Result<_, _>>()?;
    let oom_score_adj = (spec.oom_score_adj > 0)
        .then(|| std::ffi::CString::new(spec.oom_score_adj.to_string()))
        .transpose()
        .map_err(|e| e.to_string())?;
    let mut command = Command::new(&spec.command);
    command
        .args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(output.stdout)
        .stderr(output.stderr)
        .process_group(0);
    // SAFETY: between fork and exec only async-signal-safe calls (open, write, close,
    // sigaction, sigprocmask) on this thread's own state and paths built before the fork.
    unsafe {
        command.pre_exec(move || {
            if let Some(value) = &oom_score_adj {
                write_oom_score_adj(value)?;
            }
            // Into the task's cgroup first: "0" moves the writer, whatever its PID.
            for procs in &procs_files {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, c"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Whoever started the agent may have ignored SIGINT/SIGQUIT (a shell's `&`):
            // the task gets default dispositions so its kill_signal works.
            for signal in 1..32 {
                if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                    libc::signal(signal, libc::SIG_DFL);
                }
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    command.spawn().map_err(|e| {
        format!(
            "failed to start command \"{}\": {e}",
            spec.command.display()
        )
    })
}

/// Stops the task once the agent is gone (its parent changed: re-parented to init or a
/// subreaper). The main thread then records the exit as usual.
fn watch_agent(spec: &ExecutorSpec, agent_pid: i32, task_pid: i32) {
    loop {
        std::thread::sleep(PARENT_POLL);
        if nix::unistd::getppid().as_raw() != agent_pid {
            break;
        }
    }
    let group = Pid::from_raw(task_pid);
    let signal = Signal::try_from(spec.kill_signal).unwrap_or(Signal::SIGINT);
    if killpg(group, signal).is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(spec.kill_timeout_ms);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        // The main thread reaps the leader; once it is gone, it kills the rest.
        if !process_alive(task_pid) {
            return;
        }
    }
    let _ = killpg(group, Signal::SIGKILL);
}

/// Writes JSON to `path` atomically: a reader sees the old file, no file, or the whole
/// new one, never a torn write. The file is readable by its owner only (mode 600): these
/// records hold task environments and node secrets.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let text = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        // No fsync: the rename already makes this safe against a killed process, which
        // is what re-attaching needs; a power cut loses the tasks anyway.
        file.write_all(&text)?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads a JSON record; `None` when it is missing or unreadable.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
pub fn process_start_time(pid: i32) -> Option<u64> {
    ProcStat::of(pid).map(|stat| stat.start_time)
}

/// Whether `pid` is a running (not zombie) process.
pub fn process_alive(pid: i32) -> bool {
    ProcStat::of(pid).is_some_and(|stat| stat.running())
}

/// Whether `pid` is still the running process that started at `start_time`: the guard
/// against a PID reused by an unrelated process.
pub fn same_process_alive(pid: i32, start_time: u64) -> bool {
    ProcStat::of(pid).is_some_and(|stat| stat.start_time == start_time && stat.running())
}
