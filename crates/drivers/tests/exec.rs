//! The `exec` driver end to end at the driver level: real executors (this test binary
//! run as `caravan executor`), real namespaces, chroot and cgroups. They need root and a
//! usable cgroup hierarchy; elsewhere each test prints `skipping: ...` and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use caravan_drivers::cgroups::Hierarchy;
use caravan_drivers::exec::ExecConfig;
use caravan_drivers::{Driver, DriverError, ExecDriver, ExecutorCommand, TaskLaunch, TaskProcess};
use caravan_testkit::wait;
use nix::sys::signal::Signal;

const ENTRY: &str = "executor_entry";

/// Not a test: the executor's `main` when this binary runs as one.
#[test]
fn executor_entry() {
    caravan_drivers::executor::test_entry();
}

/// Why these tests cannot run here, if they cannot.
fn unsupported() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("the exec driver needs root".into());
    }
    if Hierarchy::discover().is_err() {
        return Some("no usable cgroup hierarchy is mounted".into());
    }
    None
}

macro_rules! require_exec {
    () => {
        caravan_testkit::skip_if!(unsupported())
    };
}

fn driver(config: ExecConfig) -> ExecDriver {
    ExecDriver::new(ExecutorCommand::test_binary(ENTRY, false), config)
}

/// An allocation directory laid out like the client's, in a temp dir.
struct Alloc {
    _dir: tempfile::TempDir,
    id: String,
    root: PathBuf,
}

impl Alloc {
    fn new() -> Alloc {
        let dir = tempfile::tempdir().unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let id = format!("{:08x}-test-{nanos}", std::process::id());
        let root = dir.path().join(&id);
        for sub in [
            "alloc/data",
            "alloc/logs",
            "alloc/tmp",
            "web/local",
            "web/secrets",
            "web/tmp",
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            root.join("web/tmp"),
            std::fs::Permissions::from_mode(0o1777),
        )
        .unwrap();
        Alloc {
            _dir: dir,
            id,
            root,
        }
    }

    fn launch(&self, command: &str, args: &[&str], memory_mb: i64) -> TaskLaunch {
        let env: BTreeMap<String, String> = [
            (
                "PATH".to_string(),
                "/usr/local/bin:/usr/bin:/bin".to_string(),
            ),
            ("NOMAD_ALLOC_ID".to_string(), self.id.clone()),
        ]
        .into();
        let config = serde_json::json!({"command": command, "args": args});
        TaskLaunch {
            config: config.as_object().cloned().unwrap_or_default(),
            env,
            task_dir: self.root.join("web"),
            logs: caravan_drivers::TaskLogs {
                dir: self.root.join("alloc/logs"),
                task: "web".into(),
                ..caravan_drivers::TaskLogs::default()
            },
            state_dir: self.root.join("executor"),
            kill_signal: "SIGINT".into(),
            kill_timeout: Duration::from_secs(5),
            alloc_id: self.id.clone(),
            task_name: "web".into(),
            resources: caravan_structs::Resources {
                memory_mb,
                cpu: 250,
                ..Default::default()
            },
            alloc_dir: self.root.join("alloc"),
            ..TaskLaunch::default()
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.root.join("alloc/logs/web.stdout.0")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.root.join("alloc/logs/web.stderr.0")).unwrap_or_default()
    }
}

/// Stops the task when a test ends, passed or not.
struct Stop(Option<TaskProcess>);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(process) = self.0.take() {
            process.signal_group(Signal::SIGKILL);
            if let Some(cgroup) = process.cgroup() {
                let _ = cgroup.destroy();
            }
        }
    }
}

fn eventually(what: &str, condition: impl FnMut() -> bool) {
    wait::blocking(what, Duration::from_secs(20), condition);
}

/// Mount points anywhere on the host (any process's view) under `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let needle = dir.display().to_string();
    let mut found = Vec::new();
    let mut tables = vec![PathBuf::from("/proc/self/mountinfo")];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().parse::<u32>().is_ok() {
                tables.push(entry.path().join("mountinfo"));
            }
        }
    }
    for table in tables {
        let text = std::fs::read_to_string(&table).unwrap_or_default();
        found.extend(
            text.lines()
                .filter(|l| l.contains(&needle))
                .map(|l| format!("{}: {l}", table.display())),
        );
    }
    found
}

fn cgroup_dirs(alloc_id: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/nomad.slice"] {
        let Ok(controllers) = std::fs::read_dir(root) else {
            continue;
        };
        for controller in controllers.flatten() {
            for parent in [controller.path().join("nomad"), controller.path()] {
                if let Ok(entries) = std::fs::read_dir(&parent) {
                    dirs.extend(
                        entries
                            .flatten()
                            .filter(|e| e.file_name().to_string_lossy().starts_with(alloc_id))
                            .map(|e| e.path()),
                    );
                }
            }
        }
    }
    dirs
}

#[tokio::test]
async fn an_exec_task_runs_isolated_in_its_chroot() {
    require_exec!();
    let alloc = Alloc::new();
    // A directory the host has and the task must not see.
    let marker = tempfile::Builder::new()
        .prefix("caravan-marker-")
        .tempdir_in("/tmp")
        .unwrap();
    let script = format!(
        r#"echo "pid=$$ ppid=$PPID"
grep NSpid /proc/self/status
echo "uid=$(id -u) gid=$(id -g)"
echo "host=$(hostname)"
grep NoNewPrivs /proc/self/status
grep CapBnd /proc/self/status
test -e {marker} && echo marker=visible || echo marker=hidden
test -e {alloc_root} && echo allocroot=visible || echo allocroot=hidden
echo local > /local/out && echo local=ok
echo shared > /alloc/data/out && echo alloc=ok
touch /etc/caravan-test 2>/dev/null && echo etc=writable || echo etc=readonly
echo secret > /secrets/s && echo secrets=ok
stat -c 'secrets_mode=%a' /secrets
ls /proc | grep -c '^[0-9]' | sed 's/^/procs=/'
test -c /dev/null && echo devnull=ok
"#,
        marker = marker.path().display(),
        alloc_root = alloc.root.display(),
    );
    let launch = alloc.launch("/bin/bash", &["-c", &script], 300);
    let mut stop = Stop(Some(
        driver(ExecConfig::default()).start(&launch).await.unwrap(),
    ));
    let exit = stop.0.as_mut().unwrap().wait().await;
    let out = alloc.stdout();
    assert_eq!(
        exit.exit_code,
        0,
        "stdout:\n{out}\nstderr:\n{}",
        alloc.stderr()
    );
    assert!(out.contains("pid=2 ppid=1"), "{out}");
    // grep, bash's child, is PID 3 in the task's namespace, as the task's /proc says.
    let nspid = out
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|pids| {
            pids.split_whitespace()
                .map(|p| p.parse::<u32>().unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap();
    assert!(nspid.len() == 1 && nspid[0] < 10, "{out}");
    assert!(out.contains("uid=65534"), "runs as nobody: {out}");
    assert!(out.contains(&format!("host={}", &alloc.id[..8])), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    // Nomad's default set: 13 capabilities, no CAP_SYS_ADMIN (bit 21).
    let bounding = out
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:\t"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(bounding.count_ones(), 13, "{bounding:x}");
    assert_eq!(bounding & (1 << 21), 0);
    // Only the task's own processes: init, bash, ls, grep, sed.
    let procs: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(procs <= 6, "{out}");
    for expected in [
        "marker=hidden",
        "allocroot=hidden",
        "local=ok",
        "alloc=ok",
        "etc=readonly",
        "secrets=ok",
        "secrets_mode=700",
        "devnull=ok",
    ] {
        assert!(out.contains(expected), "missing {expected}:\n{out}");
    }
    assert_eq!(
        std::fs::read_to_string(alloc.root.join("web/local/out")).unwrap(),
        "local\n"
    );
    assert_eq!(
        std::fs::read_to_string(alloc.root.join("alloc/data/out")).unwrap(),
        "shared\n"
    );
    assert!(!Path::new("/etc/caravan-test").exists());
    // The secrets tmpfs lived in the task's namespace only.
    assert!(!alloc.root.join("web/secrets/s").exists());
    assert!(
        mounts_under(&alloc.root).is_empty(),
        "{:?}",
        mounts_under(&alloc.root)
    );
    eventually("the cgroup to be removed", || {
        cgroup_dirs(&alloc.id).is_empty()
    });
}

#[tokio::test]
async fn limits_are_in_the_cgroup_and_stop_leaves_nothing_behind() {
    require_exec!();
    let alloc = Alloc::new();
    let launch = alloc.launch("/bin/bash", &["-c", "sleep 300 & sleep 300 & wait"], 300);
    let config = ExecConfig {
        pids_limit: 99,
        ..ExecConfig::default()
    };
    let mut stop = Stop(Some(driver(config).start(&launch).await.unwrap()));
    let process = stop.0.as_mut().unwrap();
    let cgroup = process.cgroup().unwrap().clone();
    assert_eq!(cgroup.memory_limit(), Some(300 << 20));
    eventually(
        "three processes in the cgroup (init, bash, 2 sleeps)",
        || cgroup.pids().len() >= 4,
    );
    assert!(
        cgroup.pids().contains(&process.pid()),
        "init is in the cgroup"
    );
    if let Some(pids) = cgroup.dirs.get("pids") {
        assert_eq!(
            std::fs::read_to_string(pids.join("pids.max"))
                .unwrap()
                .trim(),
            "99"
        );
    }
    if let Some(cpu) = cgroup.dirs.get("cpu") {
        assert_eq!(
            std::fs::read_to_string(cpu.join("cpu.shares"))
                .unwrap()
                .trim(),
            "250"
        );
    }
    let members = cgroup.pids();
    let (exit, forced) = process.stop(Signal::SIGINT, Duration::from_secs(5)).await;
    assert!(!forced, "bash and sleep die of SIGINT");
    assert_eq!(exit.signal, 2, "{exit:?}");
    for pid in members {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "process {pid} survived the stop"
        );
    }
    assert!(!cgroup.exists(), "the cgroup is removed");
    assert!(
        cgroup_dirs(&alloc.id).is_empty(),
        "{:?}",
        cgroup_dirs(&alloc.id)
    );
    assert!(
        mounts_under(&alloc.root).is_empty(),
        "{:?}",
        mounts_under(&alloc.root)
    );
}

#[tokio::test]
async fn a_task_over_its_memory_limit_is_oom_killed_and_reported() {
    require_exec!();
    let alloc = Alloc::new();
    let launch = alloc.launch(
        "/bin/bash",
        &[
            "-c",
            r#"x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived"#,
        ],
        32,
    );
    let mut stop = Stop(Some(
        driver(ExecConfig::default()).start(&launch).await.unwrap(),
    ));
    let process = stop.0.as_mut().unwrap();
    let exit = process.wait().await;
    assert!(
        process.oom_killed(),
        "exit {exit:?}, stderr: {}",
        alloc.stderr()
    );
    assert!(!exit.successful());
    assert!(!alloc.stdout().contains("survived"));
}

#[tokio::test]
async fn a_fork_bomb_is_held_by_the_pids_limit_and_killed_on_stop() {
    require_exec!();
    let alloc = Alloc::new();
    let launch = alloc.launch(
        "/bin/bash",
        &["-c", "bomb() { bomb | bomb & }; bomb; sleep 300"],
        64,
    );
    let config = ExecConfig {
        pids_limit: 40,
        ..ExecConfig::default()
    };
    let mut stop = Stop(Some(driver(config).start(&launch).await.unwrap()));
    let process = stop.0.as_mut().unwrap();
    let cgroup = process.cgroup().unwrap().clone();
    std::thread::sleep(Duration::from_secs(2));
    let count = cgroup.pids().len();
    assert!(count <= 40, "{count} processes past pids.max");
    let (_, _) = process.stop(Signal::SIGINT, Duration::from_secs(1)).await;
    assert!(!cgroup.exists());
    let mut self_mounts = mounts_under(&alloc.root);
    self_mounts.retain(|l| !l.is_empty());
    assert!(self_mounts.is_empty(), "{self_mounts:?}");
}

#[tokio::test]
async fn a_command_missing_from_the_chroot_is_a_start_error() {
    require_exec!();
    let alloc = Alloc::new();
    let driver = driver(ExecConfig::default());
    // Not on the host at all, and on the host but outside the chroot (this binary).
    let this_binary = std::env::current_exe().unwrap();
    for command in [
        "/usr/bin/no-such-program",
        this_binary.to_str().unwrap(),
        "no-such-program",
    ] {
        let error = driver
            .start(&alloc.launch(command, &[], 64))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, DriverError::CommandNotFound { .. }),
            "{command}: {error}"
        );
        assert!(error.to_string().contains("not found"), "{error}");
    }
    // Found but not executable: the exec inside the chroot fails, quickly.
    std::fs::write(alloc.root.join("web/local/script"), "#!/bin/sh\necho hi\n").unwrap();
    let started = Instant::now();
    let error = driver
        .start(&alloc.launch("script", &[], 64))
        .await
        .err()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(error.to_string().contains("Permission denied"), "{error}");
    eventually("the cgroup to be removed", || {
        cgroup_dirs(&alloc.id).is_empty()
    });
    assert!(mounts_under(&alloc.root).is_empty());
}

#[tokio::test]
async fn an_exec_task_outlives_its_handle_and_is_reattached() {
    require_exec!();
    let alloc = Alloc::new();
    let launch = alloc.launch("/bin/sleep", &["300"], 64);
    let driver = driver(ExecConfig::default());
    let process = driver.start(&launch).await.unwrap();
    let pid = process.pid();
    let cgroup = process.cgroup().unwrap().clone();
    // The agent going away (restart, kill -9) drops its handles.
    drop(process);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        cgroup.pids().contains(&pid),
        "the task must outlive its handle"
    );
    let recovered = driver.recover(&launch.state_dir).unwrap();
    assert_eq!(recovered.pid(), pid);
    assert_eq!(recovered.cgroup(), Some(&cgroup));
    let mut stop = Stop(Some(recovered));
    let usage =
        caravan_drivers::stats::sample(&launch.state_dir).expect("a running task has stats");
    let _ = usage;
    let (exit, _) = stop
        .0
        .as_mut()
        .unwrap()
        .stop(Signal::SIGTERM, Duration::from_secs(5))
        .await;
    assert_eq!(exit.signal, 15);
    assert!(!cgroup.exists());
}

#[tokio::test]
async fn a_dev_agent_exec_task_dies_with_its_handle() {
    require_exec!();
    let alloc = Alloc::new();
    // die_with_agent: the executor also runs a thread watching its agent.
    let driver = ExecDriver::new(
        ExecutorCommand::test_binary(ENTRY, true),
        ExecConfig::default(),
    );
    let process = driver
        .start(&alloc.launch("/bin/sleep", &["300"], 64))
        .await
        .unwrap();
    let cgroup = process.cgroup().unwrap().clone();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!cgroup.pids().is_empty(), "the task runs");
    drop(process);
    eventually("the task and its cgroup to be gone", || !cgroup.exists());
}

/// Not run by default: `cargo test -p caravan-drivers --test exec -- --ignored
/// --nocapture start_latency` prints the median start latency (driver `start` until the
/// executor has recorded the running task) of 50 starts of each driver.
#[tokio::test]
#[ignore]
async fn start_latency_exec_vs_raw_exec() {
    require_exec!();
    let exec = driver(ExecConfig::default());
    let raw = caravan_drivers::RawExecDriver::new(ExecutorCommand::test_binary(ENTRY, false), true);
    let mut medians = Vec::new();
    for name in ["raw_exec", "exec"] {
        let mut samples = Vec::new();
        for _ in 0..50 {
            let alloc = Alloc::new();
            let launch = alloc.launch("/bin/sleep", &["30"], 64);
            let started = Instant::now();
            let process = match name {
                "exec" => exec.start(&launch).await.unwrap(),
                _ => raw.start(&launch).await.unwrap(),
            };
            samples.push(started.elapsed());
            let mut stop = Stop(Some(process));
            let _ = stop
                .0
                .as_mut()
                .unwrap()
                .stop(Signal::SIGKILL, Duration::from_secs(5))
                .await;
        }
        samples.sort();
        medians.push((name, samples[samples.len() / 2]));
    }
    println!("median start latency over 50 starts: {medians:?}");
}
