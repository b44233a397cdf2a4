//! The executor and `raw_exec` end to end: real executor processes (this test binary run
//! as `caravan executor`), real tasks. Every test kills what it started, even on failure.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::executor::{
    EXIT_FILE, ExecutorSpec, ExitRecord, SPEC_FILE, TASK_FILE, TaskRecord, process_alive,
    process_start_time, read_json, write_json_atomic,
};
use crate::{Driver, DriverError, ExecutorCommand, RawExecDriver, TaskLaunch};

const ENTRY: &str = "tests::executor_entry";

/// Not a test: the executor's `main` when this binary runs as one.
#[test]
fn executor_entry() {
    crate::executor::test_entry();
}

fn driver(die_with_agent: bool) -> RawExecDriver {
    RawExecDriver::new(ExecutorCommand::test_binary(ENTRY, die_with_agent), true)
}

fn launch(dir: &Path, command: &str, args: &[&str]) -> TaskLaunch {
    TaskLaunch {
        config: command_config(command, args),
        env: [("PATH".to_string(), "/usr/bin:/bin".to_string())].into(),
        task_dir: dir.to_path_buf(),
        logs: crate::TaskLogs {
            dir: dir.to_path_buf(),
            task: "task".into(),
            ..crate::TaskLogs::default()
        },
        state_dir: dir.join("executor"),
        kill_signal: "SIGTERM".into(),
        kill_timeout: Duration::from_secs(5),
        ..TaskLaunch::default()
    }
}

/// A task config block that runs `command` with `args`.
fn command_config(command: &str, args: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let config = serde_json::json!({"command": command, "args": args});
    config.as_object().cloned().unwrap_or_default()
}

/// Kills a process group when the test ends, passed or not.
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.0 > 0 {
            let _ = killpg(Pid::from_raw(self.0), Signal::SIGKILL);
        }
    }
}

fn eventually(what: &str, condition: impl FnMut() -> bool) {
    caravan_testkit::wait::blocking(what, Duration::from_secs(15), condition);
}

fn group_gone(pgid: i32) -> bool {
    killpg(Pid::from_raw(pgid), None).is_err()
}

#[tokio::test]
async fn exit_code_and_logs_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "sh", &["-c", "echo out; echo err >&2; exit 3"]);
    let mut task = driver(false).start(&launch).await.unwrap();
    let _guard = GroupGuard(task.pid());
    let exit = task.wait().await;
    assert_eq!((exit.exit_code, exit.signal), (3, 0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("task.stdout.0")).unwrap(),
        "out\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("task.stderr.0")).unwrap(),
        "err\n"
    );
    let recorded: ExitRecord = read_json(&launch.state_dir.join(EXIT_FILE)).unwrap();
    assert_eq!(recorded.exit_code, 3);
    let record: TaskRecord = read_json(&launch.state_dir.join(TASK_FILE)).unwrap();
    assert_eq!(record.pid, task.pid());
    assert_ne!(record.start_time, 0);
}

#[tokio::test]
async fn a_signalled_task_exits_128_plus_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "sh", &["-c", "kill -TERM $$"]);
    let mut task = driver(false).start(&launch).await.unwrap();
    let _guard = GroupGuard(task.pid());
    let exit = task.wait().await;
    assert_eq!((exit.exit_code, exit.signal), (143, 15));
}

#[tokio::test]
async fn a_missing_command_is_a_start_error() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "no-such-command-anywhere", &[]);
    let error = driver(false).start(&launch).await.err().unwrap();
    assert!(
        matches!(error, DriverError::CommandNotFound { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn stop_signals_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "sh", &["-c", "sleep 30 & sleep 30"]);
    let mut task = driver(false).start(&launch).await.unwrap();
    let pid = task.pid();
    let _guard = GroupGuard(pid);
    let (exit, forced) = task.stop(Signal::SIGTERM, Duration::from_secs(5)).await;
    assert!(!forced);
    assert_eq!(exit.signal, 15);
    eventually("the task's group to be gone", || group_gone(pid));
}

#[tokio::test]
async fn a_dropped_handle_leaves_the_task_running_and_recover_reattaches() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "sleep", &["30"]);
    let driver = driver(false);
    let task = driver.start(&launch).await.unwrap();
    let pid = task.pid();
    let _guard = GroupGuard(pid);
    // The agent going away (restart, kill -9) drops its handles.
    drop(task);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(process_alive(pid), "the task must outlive its handle");

    let mut recovered = driver.recover(&launch.state_dir).unwrap();
    assert_eq!(recovered.pid(), pid);
    let (exit, _) = recovered
        .stop(Signal::SIGTERM, Duration::from_secs(5))
        .await;
    assert_eq!(exit.signal, 15);
    eventually("the task to be gone", || group_gone(pid));
}

#[tokio::test]
async fn recover_returns_the_exit_recorded_while_no_agent_watched() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "sh", &["-c", "sleep 0.2; exit 5"]);
    let driver = driver(false);
    let task = driver.start(&launch).await.unwrap();
    let _guard = GroupGuard(task.pid());
    drop(task);
    eventually("exit.json", || launch.state_dir.join(EXIT_FILE).exists());
    let mut recovered = driver.recover(&launch.state_dir).unwrap();
    let exit = recovered.wait().await;
    assert_eq!((exit.exit_code, exit.signal), (5, 0));
}

#[test]
fn recover_refuses_a_reused_pid() {
    let dir = tempfile::tempdir().unwrap();
    // An unrelated process now holds the recorded PIDs.
    let mut stranger = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let stranger_pid = stranger.id() as i32;
    let _guard = GroupGuard(stranger_pid);
    let start_time = process_start_time(stranger_pid).unwrap();
    let record = TaskRecord {
        pid: stranger_pid,
        start_time: start_time + 1,
        executor_pid: stranger_pid,
        executor_start_time: start_time + 1,
        error: None,
    };
    write_json_atomic(&dir.path().join(TASK_FILE), &record).unwrap();
    let error = driver(false).recover(dir.path()).err().unwrap();
    assert!(matches!(error, DriverError::Recover { .. }), "{error}");
    assert!(
        process_alive(stranger_pid),
        "a process that merely reuses the PID must not be touched"
    );
    let _ = stranger.kill();
    let _ = stranger.wait();
}

#[test]
fn recover_without_a_record_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = driver(false).recover(dir.path()).err().unwrap();
    assert!(error.to_string().contains("no task record"), "{error}");
}

#[tokio::test]
async fn a_dev_agent_handle_kills_its_task_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let launch = launch(dir.path(), "sleep", &["30"]);
    let task = driver(true).start(&launch).await.unwrap();
    let pid = task.pid();
    let _guard = GroupGuard(pid);
    drop(task);
    eventually("the task to be gone", || group_gone(pid));
}

#[test]
fn die_with_agent_stops_the_task_when_the_agent_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("executor");
    std::fs::create_dir_all(&state_dir).unwrap();
    let spec = ExecutorSpec {
        command: PathBuf::from("/bin/sh"),
        args: vec!["-c".into(), "sleep 30".into()],
        env: [("PATH".to_string(), "/usr/bin:/bin".to_string())].into(),
        cwd: dir.path().to_path_buf(),
        logs: crate::TaskLogs {
            dir: dir.path().to_path_buf(),
            task: "task".into(),
            ..crate::TaskLogs::default()
        },
        state_dir: state_dir.clone(),
        // The executor's parent at startup: the stand-in agent below.
        agent_pid: 0,
        die_with_agent: true,
        kill_signal: Signal::SIGTERM as i32,
        kill_timeout_ms: 2000,
        isolation: None,
        cgroup: None,
        oom_score_adj: 0,
    };
    let spec_path = state_dir.join(SPEC_FILE);
    write_json_atomic(&spec_path, &spec).unwrap();
    let executor = ExecutorCommand::test_binary(ENTRY, true);
    // A stand-in agent: a shell that starts the executor and waits.
    let mut agent = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("\"$@\" >/dev/null 2>&1 & wait")
        .arg("sh")
        .arg(&executor.program)
        .args(&executor.args)
        .arg(&spec_path)
        .process_group(0)
        .spawn()
        .unwrap();
    let agent_guard = GroupGuard(agent.id() as i32);
    eventually("task.json", || state_dir.join(TASK_FILE).exists());
    let record: TaskRecord = read_json(&state_dir.join(TASK_FILE)).unwrap();
    let _task_guard = GroupGuard(record.pid);
    assert!(process_alive(record.pid));

    // kill -9 the agent: the executor notices and stops the task.
    agent.kill().unwrap();
    agent.wait().unwrap();
    eventually("the task to be gone", || group_gone(record.pid));
    eventually("exit.json", || state_dir.join(EXIT_FILE).exists());
    let exit: ExitRecord = read_json(&state_dir.join(EXIT_FILE)).unwrap();
    assert_eq!(exit.signal, 15);
    drop(agent_guard);
}

#[tokio::test]
async fn exec_runs_a_command_inside_a_running_task_and_streams_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(dir.path(), "sleep", &["30"]);
    launch.env.insert("GREETING".into(), "hello".into());
    let driver = driver(false);
    let mut task = driver.start(&launch).await.unwrap();
    let _guard = GroupGuard(task.pid());
    let request = crate::ExecRequest {
        command: vec![
            "sh".into(),
            "-c".into(),
            "echo $GREETING; pwd; cat; echo e >&2; exit 5".into(),
        ],
        ..crate::ExecRequest::default()
    };
    let mut session = driver.exec(&launch.state_dir, request).await.unwrap();
    let mut stdin = session.stdin.take().unwrap();
    stdin.write_all(b"from stdin\n").await.unwrap();
    drop(stdin);
    let mut out = String::new();
    session
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    let mut err = String::new();
    session
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert_eq!(
        out,
        format!("hello\n{}\nfrom stdin\n", dir.path().display())
    );
    assert_eq!(err, "e\n");
    assert_eq!(session.wait().await, 5);

    // A command that does not exist, then a task that has ended.
    let missing = crate::ExecRequest {
        command: vec!["no-such-command-here".into()],
        ..crate::ExecRequest::default()
    };
    let error = driver
        .exec(&launch.state_dir, missing.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(error, DriverError::CommandNotFound { .. }),
        "{error}"
    );
    task.stop(Signal::SIGKILL, Duration::from_secs(5)).await;
    let error = driver.exec(&launch.state_dir, missing).await.unwrap_err();
    assert!(matches!(error, DriverError::NotRunning), "{error}");
}
