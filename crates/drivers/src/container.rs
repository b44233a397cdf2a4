//! The isolated task of the `exec` driver, as its executor starts it.
//!
//! ```text
//! executor (host namespaces, root)       unshare(PID); fork
//!  └─ init   (PID 1 of the task's PID namespace; leader of the task's process group)
//!      │      joins the cgroup; unshare(mount, UTS, IPC); builds the root; pivot_root
//!      └─ task (PID 2) drops capabilities, groups, gid, uid; no_new_privs; seccomp; execve
//! ```
//!
//! Why an init and not the task as PID 1 (libcontainer's way): the kernel delivers a
//! signal sent from outside the namespace to its PID 1 only if PID 1 handles it, so a
//! task that is PID 1 ignores its `kill_signal` (SIGINT, SIGTERM) unless it installs a
//! handler, and would have to reap orphans it never asked for. Our init reaps every
//! orphan, ignores the stop signals itself, and the task keeps default dispositions:
//! `killpg(init)` reaches the task and its children as in `raw_exec`. When the task
//! exits, init reports its wait status to the executor and exits, and the kernel kills
//! whatever is left in the namespace. A SIGKILL of init (a forced stop) does the same.
//!
//! init and the task are forked, not exec'd, from the executor, which is single-threaded
//! when it forks (`caravan executor` starts no threads before this), so the children may
//! allocate. init talks to the executor over a pipe, one line per message:
//! `started <pid>`, `error <why>`, `exit <wait status>`.

use std::ffi::{CString, OsStr};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use serde::{Deserialize, Serialize};

use crate::cgroups::TaskCgroup;
use crate::chroot::MountStep;
use crate::executor::ExecutorSpec;
use crate::task_output::TaskEnds;

/// How the executor isolates an `exec` task: resolved by the driver (user, mounts,
/// capabilities), carried in the executor's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// The task directory: the task's `/`.
    pub task_dir: PathBuf,
    /// How the root is built, in order.
    pub mounts: Vec<MountStep>,
    pub hostname: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// A PID namespace of its own (`pid_mode = "private"`, the default).
    pub pid_namespace: bool,
    /// An IPC namespace of its own (`ipc_mode = "private"`, the default).
    pub ipc_namespace: bool,
    /// A network namespace of its own, with only a loopback interface: the task
    /// cannot reach the host's loopback services (the agent's API among them). Off
    /// when the group asks for host networking (`network { mode = "host" }`).
    #[serde(default)]
    pub net_namespace: bool,
    /// Capabilities kept in the bounding set; every other one is dropped.
    pub capabilities: Vec<u32>,
}

/// A started isolated task, seen from the executor.
pub struct Started {
    /// init's PID on the host: the task's process group.
    pub init_pid: i32,
    reports: BufReader<File>,
}

/// How the task ended: its wait status as init saw it, else init's own.
pub enum Ended {
    Exited(i32),
    Signaled(i32),
}

impl Started {
    /// Waits for init's `exit` report, then reaps init.
    pub fn wait(mut self) -> Ended {
        let mut reported = None;
        let mut line = String::new();
        while self.reports.read_line(&mut line).is_ok_and(|n| n > 0) {
            if let Some(status) = line.trim().strip_prefix("exit ") {
                reported = status.parse::<i32>().ok();
            }
            line.clear();
        }
        let init = loop {
            match waitpid(Pid::from_raw(self.init_pid), None) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        };
        if let Some(status) = reported {
            return decode(status);
        }
        match init {
            Ok(WaitStatus::Signaled(_, signal, _)) => Ended::Signaled(signal as i32),
            Ok(WaitStatus::Exited(_, code)) => Ended::Exited(code),
            _ => Ended::Exited(-1),
        }
    }
}

fn decode(status: i32) -> Ended {
    if libc::WIFSIGNALED(status) {
        Ended::Signaled(libc::WTERMSIG(status))
    } else {
        Ended::Exited(libc::WEXITSTATUS(status))
    }
}

/// What the children need, built before forking.
struct Prepared {
    command: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
    stdin: File,
    stdout: File,
    stderr: File,
    last_cap: u32,
    /// The default seccomp filters ([`crate::seccomp`]), compiled before the fork.
    seccomp: Vec<seccompiler::BpfProgram>,
    /// `oom_score_adj` as text, when set.
    oom_score_adj: Option<CString>,
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| format!("{what} contains a NUL byte"))
}

fn path_cstring(path: &Path) -> Result<CString, String> {
    cstring(path.as_os_str().as_bytes(), &path.display().to_string())
}

/// Starts init (and through it the task) and returns once the task runs, or why it
/// could not start.
///
/// `output` becomes the task's stdout and stderr; `parent_fds` (the pipes' read ends)
/// are closed in init, which forks without exec and would otherwise hold them.
pub(crate) fn spawn(
    spec: &ExecutorSpec,
    isolation: &Isolation,
    output: TaskEnds,
    parent_fds: &[std::os::fd::RawFd],
) -> Result<Started, String> {
    let mut argv = vec![path_cstring(&spec.command)?];
    for arg in &spec.args {
        argv.push(cstring(arg.as_bytes(), "an argument")?);
    }
    let envp = spec
        .env
        .iter()
        .map(|(k, v)| cstring(format!("{k}={v}").as_bytes(), "the environment"))
        .collect::<Result<_, _>>()?;
    let prepared = Prepared {
        command: path_cstring(&spec.command)?,
        argv,
        envp,
        cwd: path_cstring(&spec.cwd)?,
        stdin: File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?,
        stdout: output.stdout,
        stderr: output.stderr,
        last_cap: std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40),
        seccomp: crate::seccomp::default_filters()?,
        oom_score_adj: (spec.oom_score_adj > 0)
            .then(|| cstring(spec.oom_score_adj.to_string().as_bytes(), "oom_score_adj"))
            .transpose()?,
    };
    let (reports_read, reports_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // The executor stays in the host's namespace; its next child is PID 1 of a new one.
    // Afterwards it goes back to its own for later children: the kernel refuses new
    // threads (the die_with_agent watcher) while the two differ.
    let own_pid_namespace = if isolation.pid_namespace {
        Some(File::open("/proc/self/ns/pid").map_err(|e| format!("/proc/self/ns/pid: {e}"))?)
    } else {
        None
    };
    if isolation.pid_namespace {
        // SAFETY: unshare only changes this process's namespace for future children.
        if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
            return Err(format!(
                "failed to create a PID namespace: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // SAFETY: the executor is single-threaded here (see the module doc); the child only
    // runs init_main and then _exit, never returning into the executor's code.
    match unsafe { fork() } {
        Err(error) => Err(format!("fork: {error}")),
        Ok(ForkResult::Child) => {
            drop(reports_read);
            for fd in parent_fds {
                // SAFETY: closing descriptors this forked child inherited and never uses.
                unsafe { libc::close(*fd) };
            }
            let code = init_main(
                &prepared,
                isolation,
                spec.cgroup.as_ref(),
                File::from(reports_write),
            );
            // SAFETY: leaving the forked child without running the parent's atexit work.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(reports_write);
            if let Some(namespace) = &own_pid_namespace {
                // SAFETY: setns on a descriptor of our own PID namespace.
                if unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
                    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                    let _ = waitpid(child, None);
                    return Err(os_error("failed to return to the executor's PID namespace"));
                }
            }
            let mut reports = BufReader::new(File::from(reports_read));
            let mut line = String::new();
            let read = reports.read_line(&mut line);
            let message = line.trim();
            if message.starts_with("started ") {
                return Ok(Started {
                    init_pid: child.as_raw(),
                    reports,
                });
            }
            let _ = waitpid(child, None);
            match (read, message.strip_prefix("error ")) {
                (_, Some(reason)) => Err(reason.to_string()),
                (Err(error), None) => Err(format!("reading from the task's init: {error}")),
                (Ok(_), None) => Err("the task's init exited before starting the task".into()),
            }
        }
    }
}

fn report(channel: &mut File, message: &str) {
    let line = format!("{}\n", message.replace('\n', " "));
    let _ = channel.write_all(line.as_bytes());
}

fn os_error(what: impl std::fmt::Display) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// PID 1 of the task's namespace. Returns its exit code.
fn init_main(
    prepared: &Prepared,
    isolation: &Isolation,
    cgroup: Option<&TaskCgroup>,
    mut reports: File,
) -> i32 {
    match build_root(isolation, cgroup) {
        Ok(()) => {}
        Err(error) => {
            report(&mut reports, &format!("error {error}"));
            return 1;
        }
    }
    let (error_read, error_write) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(pipe) => pipe,
        Err(error) => {
            report(&mut reports, &format!("error pipe: {error}"));
            return 1;
        }
    };
    // SAFETY: init is single-threaded; the child execs or _exits.
    let task = match unsafe { fork() } {
        Err(error) => {
            report(&mut reports, &format!("error fork: {error}"));
            return 1;
        }
        Ok(ForkResult::Child) => {
            drop(error_read);
            drop(reports);
            let error = task_main(prepared, isolation);
            let mut channel = File::from(error_write);
            let _ = channel.write_all(error.as_bytes());
            // SAFETY: the forked task could not exec; leave without unwinding.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(error_write);
    // The write end closes on a successful exec: EOF means the task runs.
    let mut exec_error = String::new();
    let _ = std::io::Read::read_to_string(&mut File::from(error_read), &mut exec_error);
    if !exec_error.is_empty() {
        let _ = waitpid(task, None);
        report(&mut reports, &format!("error {exec_error}"));
        return 1;
    }
    report(&mut reports, &format!("started {task}"));
    // Reap everything; the task's end is the container's end.
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == task => {
                report(&mut reports, &format!("exit {}", (code & 0xff) << 8));
                return 0;
            }
            Ok(WaitStatus::Signaled(pid, signal, core)) if pid == task => {
                let status = signal as i32 | if core { 0x80 } else { 0 };
                report(&mut reports, &format!("exit {status}"));
                return 0;
            }
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 0,
        }
    }
}

/// Joins the cgroup, enters new mount/UTS/IPC namespaces and makes the task directory
/// the root.
fn build_root(isolation: &Isolation, cgroup: Option<&TaskCgroup>) -> Result<(), String> {
    if let Some(cgroup) = cgroup {
        for procs in cgroup.procs_files() {
            // "0": the writer itself, whatever its PID in this namespace.
            std::fs::write(&procs, "0")
                .map_err(|e| format!("failed to join cgroup {}: {e}", procs.display()))?;
        }
    }
    // SAFETY: plain syscalls on this process's own state.
    unsafe {
        // The task's process group: what the agent signals.
        libc::setpgid(0, 0);
        // init ignores the stop signals; the task resets them to their defaults.
        for signal in 1..32 {
            if ![libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD].contains(&signal) {
                libc::signal(signal, libc::SIG_IGN);
            }
        }
    }
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWUTS;
    if isolation.ipc_namespace {
        flags |= libc::CLONE_NEWIPC;
    }
    if isolation.net_namespace {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: unshare changes only this process's namespaces.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(os_error(
            "failed to create mount/UTS/IPC/network namespaces",
        ));
    }
    if isolation.net_namespace {
        loopback_up()?;
    }
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .map_err(|e| format!("failed to make / private: {e}"))?;
    let root = &isolation.task_dir;
    // pivot_root needs the new root to be a mount point.
    mount(Some(root), root, None, libc::MS_BIND | libc::MS_REC, None)
        .map_err(|e| format!("failed to bind {} on itself: {e}", root.display()))?;
    for step in &isolation.mounts {
        apply(step)?;
    }
    if !isolation.hostname.is_empty() {
        nix::unistd::sethostname(&isolation.hostname)
            .map_err(|e| format!("failed to set the hostname: {e}"))?;
    }
    enter_root(root)
}

/// Brings up `lo` in a new network namespace (it starts down), so the task's own
/// loopback services work.
fn loopback_up() -> Result<(), String> {
    // SAFETY: a socket used only for two ioctls on a zeroed, NUL-terminated ifreq.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(os_error("failed to open a socket to set up the loopback"));
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        let ok = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) == 0 && {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) == 0
        };
        let error = os_error("failed to bring up the loopback interface");
        libc::close(fd);
        if ok { Ok(()) } else { Err(error) }
    }
}

fn enter_root(root: &Path) -> Result<(), String> {
    std::env::set_current_dir(root).map_err(|e| format!("chdir {}: {e}", root.display()))?;
    let dot = c".";
    // SAFETY: pivot_root(".", ".") stacks the old root under the new one; the detach
    // below removes it (runc's way, no put_old directory needed).
    let pivoted = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) } == 0;
    if pivoted {
        // SAFETY: detaching the old root, now stacked on ".".
        if unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) } != 0 {
            return Err(os_error("failed to detach the old root"));
        }
    } else {
        // pivot_root is refused on an initramfs root: fall back to chroot (Nomad's
        // `no_pivot_root`).
        // SAFETY: chroot to the current directory.
        if unsafe { libc::chroot(dot.as_ptr()) } != 0 {
            return Err(os_error(
                "failed to pivot_root or chroot into the task directory",
            ));
        }
    }
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))
}

fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let source = source.map(path_cstring).transpose()?;
    let target_c = path_cstring(target)?;
    let fstype = fstype
        .map(|t| cstring(t.as_bytes(), "fstype"))
        .transpose()?;
    let data = data.map(|d| cstring(d.as_bytes(), "options")).transpose()?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is a NUL-terminated string that outlives the call, or null.
    let result = unsafe {
        libc::mount(
            ptr(&source),
            target_c.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

fn apply(step: &MountStep) -> Result<(), String> {
    match step {
        MountStep::Bind {
            source,
            target,
            read_only,
        } => {
            let describe = |e: String| {
                format!(
                    "failed to bind-mount {} on {}: {e}",
                    source.display(),
                    target.display()
                )
            };
            mount(
                Some(source),
                target,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )
            .map_err(describe)?;
            if *read_only {
                mount(
                    None,
                    target,
                    None,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID,
                    None,
                )
                .map_err(describe)?;
            }
            Ok(())
        }
        MountStep::Tmpfs {
            target,
            options,
            flags,
        } => mount(
            Some(Path::new("tmpfs")),
            target,
            Some("tmpfs"),
            *flags,
            Some(options),
        )
        .map_err(|e| format!("failed to mount a tmpfs on {}: {e}", target.display())),
        MountStep::Proc { target } => mount(
            Some(Path::new("proc")),
            target,
            Some("proc"),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        )
        .map_err(|e| format!("failed to mount /proc on {}: {e}", target.display())),
        MountStep::File { path } => OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map(drop)
            .map_err(|e| format!("failed to create {}: {e}", path.display())),
        MountStep::Dir { path, mode } => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(path)
                .and_then(|()| {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))
                })
                .map_err(|e| format!("failed to create {}: {e}", path.display()))
        }
        MountStep::Symlink { target, link } => std::os::unix::fs::symlink(target, link)
            .map_err(|e| format!("failed to link {}: {e}", link.display())),
    }
}

/// The task, forked from init inside the new root: drops privileges and execs. Returns
/// only on failure, with the reason.
fn task_main(prepared: &Prepared, isolation: &Isolation) -> String {
    // SAFETY: plain syscalls on this process's own state, with valid descriptors and
    // NUL-terminated strings owned by `prepared`.
    unsafe {
        libc::dup2(prepared.stdin.as_raw_fd(), 0);
        libc::dup2(prepared.stdout.as_raw_fd(), 1);
        libc::dup2(prepared.stderr.as_raw_fd(), 2);
        for signal in 1..32 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // Nomad's default capability set bounds what the task (or anything it execs)
        // can ever hold.
        for cap in 0..=prepared.last_cap {
            if !isolation.capabilities.contains(&cap) {
                libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
            }
        }
        if let Some(value) = &prepared.oom_score_adj
            && let Err(error) = crate::executor::write_oom_score_adj(value)
        {
            return format!("failed to set oom_score_adj: {error}");
        }
        if libc::setgroups(isolation.groups.len(), isolation.groups.as_ptr()) != 0 {
            return os_error("setgroups");
        }
        if libc::setgid(isolation.gid) != 0 {
            return os_error(format!("setgid {}", isolation.gid));
        }
        if libc::setuid(isolation.uid) != 0 {
            return os_error(format!("setuid {}", isolation.uid));
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return os_error("no_new_privs");
        }
        if let Err(error) = crate::seccomp::install(&prepared.seccomp) {
            return error;
        }
        if libc::chdir(prepared.cwd.as_ptr()) != 0 {
            return os_error(format!(
                "failed to change to work_dir {}",
                OsStr::from_bytes(prepared.cwd.as_bytes()).to_string_lossy()
            ));
        }
        let mut argv: Vec<*const libc::c_char> = prepared.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut envp: Vec<*const libc::c_char> = prepared.envp.iter().map(|e| e.as_ptr()).collect();
        envp.push(std::ptr::null());
        libc::execve(prepared.command.as_ptr(), argv.as_ptr(), envp.as_ptr());
    }
    os_error(format!(
        "failed to start command \"{}\" in the chroot",
        OsStr::from_bytes(prepared.command.as_bytes()).to_string_lossy()
    ))
}
