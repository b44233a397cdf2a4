//! `alloc exec`: a command started inside a running task ([`crate::Driver::exec`]).
//!
//! Both drivers' tasks run under an executor whose state directory says everything an
//! exec needs: `task.json` (the task's PID, which must still run) and `executor.json`
//! (its environment, working directory, cgroup and, for `exec` tasks, its isolation).
//! The command is forked from the agent and, before it execs:
//!
//! - joins the task's cgroup;
//! - for an `exec` task, enters the namespaces of the task's init (`/proc/<pid>/ns/*`:
//!   IPC, UTS, network, PID, mount) and its root (`/proc/<pid>/root`). Entering a PID
//!   namespace only places the caller's *children* in it, so the forked process forks
//!   once more: the grandchild runs the command, the middle process waits for it and
//!   exits with its status. Then it drops to the task's capabilities, groups, gid and
//!   uid, sets `no_new_privs` and installs the task's seccomp filters;
//! - starts a session of its own, with the pseudo-terminal as its controlling terminal
//!   when a TTY was asked for;
//! - changes to the task's working directory and runs with the task's environment.
//!
//! Everything between fork and exec is a plain system call on data prepared before the
//! fork: the agent is multi-threaded.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::DriverError;
use crate::container::Isolation;
use crate::executor::{
    EXIT_FILE, ExecutorSpec, SPEC_FILE, TASK_FILE, TaskRecord, read_json, same_process_alive,
};

/// The `PATH` a command is looked up in when the task's environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run inside a task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// The program and its arguments; the program is looked up in the task's `PATH`.
    pub command: Vec<String>,
    /// Run it on a pseudo-terminal (stdout and stderr are then one stream).
    pub tty: bool,
    /// The terminal's size (height, width) from the start, when the caller sent one
    /// before the command was started: a command that asks at once (`stty size`, a
    /// full-screen program) sees it rather than 0×0.
    pub tty_size: Option<(u16, u16)>,
}

/// An output stream of a command ([`ExecSession`]).
pub type ExecReader = Pin<Box<dyn AsyncRead + Send>>;
/// The input stream of a command ([`ExecSession`]).
pub type ExecWriter = Pin<Box<dyn AsyncWrite + Send>>;

/// A command running inside a task. Its streams are taken by the caller; with a TTY,
/// `stdout` carries both outputs and `stderr` is `None`. Dropping the session kills the
/// command.
pub struct ExecSession {
    pub stdin: Option<ExecWriter>,
    pub stdout: Option<ExecReader>,
    pub stderr: Option<ExecReader>,
    /// The pseudo-terminal's master side, for resizes.
    pty: Option<File>,
    runner: ExecRunner,
}

/// What runs the command: a child of the agent, or a container engine.
enum ExecRunner {
    Child(tokio::process::Child),
    Engine {
        tty: bool,
        command: Box<dyn EngineCommand>,
    },
}

/// A command a container engine runs inside its task (`docker exec`).
pub trait EngineCommand: Send {
    /// Sets the command's terminal size.
    fn resize(&self, height: u16, width: u16);
    /// Waits for the command and answers its exit code.
    fn wait(&mut self) -> crate::DriverFuture<'_, i32>;
    /// Stops relaying the command's streams (engines may not let a command be killed).
    fn kill(&mut self);
}

impl std::fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pid = match &self.runner {
            ExecRunner::Child(child) => child.id(),
            ExecRunner::Engine { .. } => None,
        };
        f.debug_struct("ExecSession")
            .field("pid", &pid)
            .field("tty", &self.tty())
            .finish()
    }
}

impl ExecSession {
    /// A command an engine runs, with its streams (`stderr` is `None` with a TTY).
    pub fn from_engine(
        stdin: Option<ExecWriter>,
        stdout: Option<ExecReader>,
        stderr: Option<ExecReader>,
        tty: bool,
        command: Box<dyn EngineCommand>,
    ) -> ExecSession {
        ExecSession {
            stdin,
            stdout,
            stderr,
            pty: None,
            runner: ExecRunner::Engine { tty, command },
        }
    }

    /// Whether the command runs on a pseudo-terminal.
    pub fn tty(&self) -> bool {
        match &self.runner {
            ExecRunner::Child(_) => self.pty.is_some(),
            ExecRunner::Engine { tty, .. } => *tty,
        }
    }

    /// Sets the terminal's size (a no-op without a TTY).
    pub fn resize(&self, height: u16, width: u16) {
        if let ExecRunner::Engine { tty: true, command } = &self.runner {
            command.resize(height, width);
        }
        if let Some(pty) = &self.pty {
            let size = libc::winsize {
                ws_row: height,
                ws_col: width,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCSWINSZ reads a winsize we own from a descriptor we own.
            unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        }
    }

    /// Waits for the command and answers its exit code (128 + the signal that killed it,
    /// as a shell reports it).
    pub async fn wait(&mut self) -> i32 {
        let child = match &mut self.runner {
            ExecRunner::Child(child) => child,
            ExecRunner::Engine { command, .. } => return command.wait().await,
        };
        match child.wait().await {
            Ok(status) => status
                .code()
                .or_else(|| status.signal().map(|signal| 128 + signal))
                .unwrap_or(-1),
            Err(_) => -1,
        }
    }

    /// Kills the command (the client went away).
    pub fn kill(&mut self) {
        let child = match &mut self.runner {
            ExecRunner::Child(child) => child,
            ExecRunner::Engine { command, .. } => return command.kill(),
        };
        if let Some(pid) = child.id() {
            // It leads a session and process group of its own (unless it entered a PID
            // namespace: then the grandchild dies with its parent).
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.start_kill();
    }
}

/// The running task recorded in `state_dir`, with its executor's spec.
fn running_task(state_dir: &Path) -> Result<(TaskRecord, ExecutorSpec), DriverError> {
    let not_running = || DriverError::NotRunning;
    let record: TaskRecord = read_json(&state_dir.join(TASK_FILE)).ok_or_else(not_running)?;
    if record.error.is_some()
        || state_dir.join(EXIT_FILE).exists()
        || !same_process_alive(record.pid, record.start_time)
    {
        return Err(not_running());
    }
    let spec: ExecutorSpec = read_json(&state_dir.join(SPEC_FILE)).ok_or_else(not_running)?;
    Ok((record, spec))
}

/// Finds `program` like a shell in the task's `PATH`; `root` is the task's root as the
/// agent sees it (`/proc/<pid>/root`) for an isolated task. Answers the path the command
/// execs (inside the task's root).
fn resolve(program: &str, path_var: &str, cwd: &Path, root: Option<&Path>) -> Option<PathBuf> {
    let outside = |inside: &Path| match root {
        Some(root) => root.join(inside.strip_prefix("/").unwrap_or(inside)),
        None => inside.to_path_buf(),
    };
    let executable = |inside: &Path| {
        std::fs::metadata(outside(inside))
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let inside = cwd.join(program);
        return executable(&inside).then_some(inside);
    }
    path_var
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| cwd.join(dir).join(program))
        .find(|inside| executable(inside))
}

fn cstring(bytes: &[u8]) -> Result<CString, DriverError> {
    CString::new(bytes).map_err(|_| DriverError::InvalidConfig("a NUL byte in the exec".into()))
}

/// The namespaces of `pid` this process is not in, opened, with their `setns` types.
fn foreign_namespaces(pid: i32) -> Result<Vec<(OwnedFd, libc::c_int)>, DriverError> {
    use std::os::unix::fs::MetadataExt;
    let kinds = [
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
        // The mount namespace last: the others are opened by path already.
        ("mnt", libc::CLONE_NEWNS),
    ];
    let mut namespaces = Vec::new();
    for (name, kind) in kinds {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let ino = |path: &str| std::fs::metadata(path).map(|meta| meta.ino());
        let foreign = ino(&theirs).map_err(|_| DriverError::NotRunning)?
            != ino(&format!("/proc/self/ns/{name}")).unwrap_or(0);
        if foreign {
            let file = File::open(&theirs).map_err(|_| DriverError::NotRunning)?;
            namespaces.push((OwnedFd::from(file), kind));
        }
    }
    Ok(namespaces)
}

/// What the forked command does before it execs, prepared before the fork.
struct PreExec {
    cgroup_procs: Vec<CString>,
    namespaces: Vec<(OwnedFd, libc::c_int)>,
    /// The task's root (`/proc/<pid>/root`), opened.
    root: Option<OwnedFd>,
    cwd: CString,
    tty: bool,
    /// Set for `exec` tasks: who the command runs as, and how confined.
    confined: Option<Confinement>,
}

struct Confinement {
    isolation: Isolation,
    last_cap: u32,
    seccomp: Vec<seccompiler::BpfProgram>,
}

fn os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

impl PreExec {
    /// Runs in the forked child: only system calls on prepared data.
    ///
    /// # Safety
    /// Only between fork and exec.
    unsafe fn run(&self) -> std::io::Result<()> {
        // SAFETY: plain system calls on descriptors and NUL-terminated strings we own.
        unsafe {
            for procs in &self.cgroup_procs {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(os_error());
                }
                let written = libc::write(fd, c"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(os_error());
                }
            }
            for (fd, kind) in &self.namespaces {
                if libc::setns(fd.as_raw_fd(), *kind) != 0 {
                    return Err(os_error());
                }
            }
            if let Some(root) = &self.root
                && (libc::fchdir(root.as_raw_fd()) != 0 || libc::chroot(c".".as_ptr()) != 0)
            {
                return Err(os_error());
            }
            let forked = self
                .namespaces
                .iter()
                .any(|(_, kind)| *kind == libc::CLONE_NEWPID);
            if forked {
                let child = libc::fork();
                if child < 0 {
                    return Err(os_error());
                }
                if child > 0 {
                    wait_and_exit(child);
                }
            }
            libc::setsid();
            if self.tty && libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(os_error());
            }
            if let Some(confined) = &self.confined {
                confined.apply(forked)?;
            }
            if libc::chdir(self.cwd.as_ptr()) != 0 {
                return Err(os_error());
            }
        }
        Ok(())
    }
}

/// The middle process of a PID-namespace exec: waits for the command and exits as it
/// did. Never returns.
///
/// # Safety
/// Only in a forked child.
unsafe fn wait_and_exit(child: libc::pid_t) -> ! {
    // SAFETY: plain system calls; the process leaves through _exit.
    unsafe {
        // The command holds the streams, and the pipe on which the spawner learns that
        // it exec'd (closed by that exec): this process must keep none of them open.
        for fd in 0..3 {
            libc::close(fd);
        }
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let mut status = 0;
        loop {
            let waited = libc::waitpid(child, &mut status, 0);
            if waited == child {
                break;
            }
            if waited < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        libc::_exit(128 + libc::WTERMSIG(status));
    }
}

impl Confinement {
    /// The task's bounding set, user and filters (as [`crate::container`] gives them
    /// to the task).
    ///
    /// # Safety
    /// Only between fork and exec.
    unsafe fn apply(&self, forked: bool) -> std::io::Result<()> {
        let isolation = &self.isolation;
        // SAFETY: plain system calls on data we own.
        unsafe {
            for cap in 0..=self.last_cap {
                if !isolation.capabilities.contains(&cap) {
                    libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
                }
            }
            if libc::setgroups(isolation.groups.len(), isolation.groups.as_ptr()) != 0
                || libc::setgid(isolation.gid) != 0
                || libc::setuid(isolation.uid) != 0
            {
                return Err(os_error());
            }
            // The middle process waits for us; should it die (the exec was cancelled),
            // so do we. Set after setuid, which clears it. Not without the middle
            // process: the parent would be an agent thread, which may end any time.
            if forked {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(os_error());
            }
        }
        for filter in &self.seccomp {
            if seccompiler::apply_filter(filter).is_err() {
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
        }
        Ok(())
    }
}

/// Starts `request` inside the task recorded in `state_dir` (any executor-run driver).
pub(crate) async fn start(
    state_dir: PathBuf,
    request: ExecRequest,
) -> Result<ExecSession, DriverError> {
    let Some(program) = request.command.first().cloned() else {
        return Err(DriverError::InvalidConfig("command is not present".into()));
    };
    // Reading the records, opening /proc and the fork (the spawn returns once the
    // command has exec'd, after its namespaces and root): off the runtime.
    let spawned = {
        let program = program.clone();
        tokio::task::spawn_blocking(move || {
            let (mut command, pre_exec, pty) = prepare(&state_dir, &request)?;
            // SAFETY: PreExec::run only makes system calls on data prepared before the
            // fork.
            unsafe {
                command.pre_exec(move || pre_exec.run());
            }
            let mut command = tokio::process::Command::from(command);
            command.kill_on_drop(true);
            let child = command.spawn().map_err(|source| DriverError::Spawn {
                command: program,
                source,
            })?;
            // Dropped here: the command holds its end of the terminal now.
            drop(command);
            Ok::<_, DriverError>((child, pty))
        })
    };
    let (mut child, pty) = spawned
        .await
        .map_err(|error| DriverError::Exec(error.to_string()))??;
    let (stdin, stdout, stderr, pty) = match pty {
        Some(master) => {
            let reader = master.try_clone().map_err(spawn_error(&program))?;
            let writer = master.try_clone().map_err(spawn_error(&program))?;
            let stdin: ExecWriter = Box::pin(tokio::fs::File::from_std(writer));
            let stdout: ExecReader = Box::pin(tokio::fs::File::from_std(reader));
            (Some(stdin), Some(stdout), None, Some(master))
        }
        None => (
            child.stdin.take().map(|s| Box::pin(s) as ExecWriter),
            child.stdout.take().map(|s| Box::pin(s) as ExecReader),
            child.stderr.take().map(|s| Box::pin(s) as ExecReader),
            None,
        ),
    };
    Ok(ExecSession {
        stdin,
        stdout,
        stderr,
        pty,
        runner: ExecRunner::Child(child),
    })
}

fn spawn_error(program: &str) -> impl Fn(std::io::Error) -> DriverError + '_ {
    move |source| DriverError::Spawn {
        command: program.to_string(),
        source,
    }
}

/// Reads the task's records and prepares the command (blocking).
fn prepare(
    state_dir: &Path,
    request: &ExecRequest,
) -> Result<(std::process::Command, PreExec, Option<File>), DriverError> {
    let (record, spec) = running_task(state_dir)?;
    let program = &request.command[0];
    let isolated = spec.isolation.is_some();
    let proc_root = PathBuf::from(format!("/proc/{}/root", record.pid));
    let path_var = spec
        .env
        .get("PATH")
        .cloned()
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    let resolved = resolve(
        program,
        &path_var,
        &spec.cwd,
        isolated.then_some(proc_root.as_path()),
    )
    .ok_or_else(|| DriverError::CommandNotFound {
        command: program.clone(),
        reason: "no such executable in the task's PATH".into(),
    })?;
    let mut command = std::process::Command::new(&resolved);
    command
        .arg0(program)
        .args(&request.command[1..])
        .env_clear()
        .envs(&spec.env);
    if request.tty && !spec.env.contains_key("TERM") {
        command.env("TERM", "xterm");
    }
    let pty = if request.tty {
        let size = request.tty_size.map(|(height, width)| nix::pty::Winsize {
            ws_row: height,
            ws_col: width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        });
        let pty =
            nix::pty::openpty(size.as_ref(), None).map_err(|e| DriverError::Exec(e.to_string()))?;
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .map_err(|e| DriverError::Exec(e.to_string()))?;
        }
        let slave = File::from(pty.slave);
        let io = |file: &File| {
            file.try_clone()
                .map(Stdio::from)
                .map_err(|e| DriverError::Exec(e.to_string()))
        };
        command
            .stdin(io(&slave)?)
            .stdout(io(&slave)?)
            .stderr(io(&slave)?);
        Some(File::from(pty.master))
    } else {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        None
    };
    let cgroup_procs = spec
        .cgroup
        .iter()
        .flat_map(crate::cgroups::TaskCgroup::procs_files)
        .map(|path| cstring(path.as_os_str().as_bytes()))
        .collect::<Result<_, _>>()?;
    let (namespaces, root, confined) = match &spec.isolation {
        Some(isolation) => {
            let namespaces = foreign_namespaces(record.pid)?;
            let root = File::open(&proc_root).map_err(|_| DriverError::NotRunning)?;
            let confined = Confinement {
                isolation: isolation.clone(),
                last_cap: std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(40),
                seccomp: crate::seccomp::default_filters().map_err(DriverError::Exec)?,
            };
            (namespaces, Some(OwnedFd::from(root)), Some(confined))
        }
        None => (Vec::new(), None, None),
    };
    let pre_exec = PreExec {
        cgroup_procs,
        namespaces,
        root,
        cwd: cstring(spec.cwd.as_os_str().as_bytes())?,
        tty: request.tty,
        confined,
    };
    Ok((command, pre_exec, pty))
}
