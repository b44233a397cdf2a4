use std::collections::BTreeMap;
use std::time::Duration;

use caravan_drivers::process::parse_signal;
use caravan_drivers::{Driver, ExecutorCommand, RawExecDriver, TaskLaunch};
use caravan_testkit::host::process_alive as alive;
use nix::sys::signal::Signal;

fn launch(dir: &std::path::Path, command: &str, args: &[&str]) -> TaskLaunch {
    let env: BTreeMap<String, String> = [("PATH".to_string(), "/usr/bin:/bin".to_string())].into();
    let config = serde_json::json!({"command": command, "args": args});
    TaskLaunch {
        config: config.as_object().cloned().unwrap_or_default(),
        env,
        task_dir: dir.to_path_buf(),
        logs: caravan_drivers::TaskLogs {
            dir: dir.to_path_buf(),
            task: "task".into(),
            ..caravan_drivers::TaskLogs::default()
        },
        state_dir: dir.join("executor"),
        kill_signal: String::new(),
        kill_timeout: Duration::from_secs(5),
        ..TaskLaunch::default()
    }
}

/// Not a test: the executor's `main` when this binary runs as one.
#[test]
fn executor_entry() {
    caravan_drivers::executor::test_entry();
}

fn driver() -> RawExecDriver {
    RawExecDriver::new(ExecutorCommand::test_binary("executor_entry", false), true)
}

#[tokio::test]
async fn output_goes_to_the_log_files_and_exit_code_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = driver()
        .start(&launch(
            dir.path(),
            "/bin/sh",
            &["-c", "echo out; echo err >&2; exit 3"],
        ))
        .await
        .unwrap();
    let result = task.wait().await;
    assert_eq!((result.exit_code, result.signal), (3, 0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("task.stdout.0")).unwrap(),
        "out\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("task.stderr.0")).unwrap(),
        "err\n"
    );
}

#[tokio::test]
async fn command_is_looked_up_in_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = driver()
        .start(&launch(dir.path(), "echo", &["hi"]))
        .await
        .unwrap();
    assert!(task.wait().await.successful());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("task.stdout.0")).unwrap(),
        "hi\n"
    );
}

#[tokio::test]
async fn missing_command_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = driver()
        .start(&launch(dir.path(), "/no/such/program", &[]))
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("/no/such/program"), "{error}");
}

#[tokio::test]
async fn stop_kills_children_too() {
    let dir = tempfile::tempdir().unwrap();
    let script = "sleep 1000 & echo $! > child.pid; wait";
    let mut task = driver()
        .start(&launch(dir.path(), "/bin/sh", &["-c", script]))
        .await
        .unwrap();
    let pid_file = dir.path().join("child.pid");
    let child = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(pid) = text.trim().parse::<i32>()
        {
            break pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(alive(child));
    let (_, forced) = task.stop(Signal::SIGINT, Duration::from_secs(5)).await;
    assert!(!forced || !alive(child));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!alive(child), "child {child} survived the stop");
}

#[tokio::test]
async fn children_left_behind_by_an_exited_leader_are_killed() {
    let dir = tempfile::tempdir().unwrap();
    let script = "sleep 1000 & echo $! > child.pid";
    let mut task = driver()
        .start(&launch(dir.path(), "/bin/sh", &["-c", script]))
        .await
        .unwrap();
    task.wait().await;
    let child: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!alive(child), "child {child} outlived its task");
}

#[tokio::test]
async fn a_task_ignoring_the_signal_is_force_killed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let script = "trap '' INT; touch ready; while true; do sleep 0.05; done";
    let mut task = driver()
        .start(&launch(dir.path(), "/bin/sh", &["-c", script]))
        .await
        .unwrap();
    while !dir.path().join("ready").exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (result, forced) = task.stop(Signal::SIGINT, Duration::from_millis(300)).await;
    assert!(forced);
    assert_eq!(result.signal, libc::SIGKILL);
}

#[test]
fn signal_names() {
    assert_eq!(parse_signal(""), Some(Signal::SIGINT));
    assert_eq!(parse_signal("SIGTERM"), Some(Signal::SIGTERM));
    assert_eq!(parse_signal("hup"), Some(Signal::SIGHUP));
    assert_eq!(parse_signal("SIGNOPE"), None);
}

/// PIDs written one per line into `file` by the task, once there are `count`.
async fn pids_in(file: &std::path::Path, count: usize) -> Vec<i32> {
    for _ in 0..500 {
        let pids: Vec<i32> = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.len() >= count {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the task did not write {count} PIDs to {}", file.display());
}

#[tokio::test]
async fn descendants_that_leave_the_process_group_die_with_the_task() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 || caravan_drivers::cgroups::Hierarchy::discover().is_err() {
        println!("skipping: raw_exec tracks tasks in cgroups only as root with cgroups mounted");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Two escape routes out of the task's process group: setsid, and a double fork
    // whose grandchild is re-parented to init (and also calls setsid).
    let script = "setsid sleep 1000 & echo $! >> pids; \
                  (setsid sh -c 'sleep 1000 & echo $! >> pids' &); \
                  sleep 1000 & echo $! >> pids; wait";
    let mut launch = launch(dir.path(), "/bin/sh", &["-c", script]);
    launch.alloc_id = format!("raw-exec-test-{}", std::process::id());
    launch.task_name = "escape".into();
    let mut task = driver().start(&launch).await.unwrap();
    let pids = pids_in(&dir.path().join("pids"), 3).await;
    for pid in &pids {
        assert!(alive(*pid), "{pid} is not running");
    }
    let cgroup = task.cgroup().cloned().expect("the task has a cgroup");
    task.stop(Signal::SIGTERM, Duration::from_secs(5)).await;
    for _ in 0..200 {
        if pids.iter().all(|pid| !alive(*pid)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let survivors: Vec<&i32> = pids.iter().filter(|pid| alive(**pid)).collect();
    assert!(survivors.is_empty(), "{survivors:?} survived the stop");
    assert!(!cgroup.exists(), "the task's cgroup was not removed");
}

/// The stream's files, oldest first, joined.
fn joined_log(dir: &std::path::Path, stream: &str) -> (Vec<u64>, String) {
    let indexes = caravan_drivers::log_rotation::log_indexes(dir, "task", stream).unwrap();
    let text = indexes
        .iter()
        .map(|i| std::fs::read_to_string(dir.join(format!("task.{stream}.{i}"))).unwrap())
        .collect();
    (indexes, text)
}

#[tokio::test]
async fn output_is_rotated_and_read_to_the_end_before_the_exit_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(dir.path(), "/bin/sh", &["-c", "seq 1 20000"]);
    launch.logs.max_files = 3;
    launch.logs.max_file_size = 10_000;
    let mut task = driver().start(&launch).await.unwrap();
    assert_eq!(task.wait().await.exit_code, 0);
    let (indexes, text) = joined_log(dir.path(), "stdout");
    // seq 1 20000 writes 108,894 bytes: 11 files of 10,000, the newest 3 kept.
    assert_eq!(indexes, [8, 9, 10]);
    for index in &indexes {
        let size = std::fs::metadata(dir.path().join(format!("task.stdout.{index}")))
            .unwrap()
            .len();
        assert!(size <= 10_000, "task.stdout.{index} has {size} bytes");
    }
    let all: String = (1..=20000).map(|n| format!("{n}\n")).collect();
    assert!(
        all.ends_with(&text),
        "the kept files are not the output's tail"
    );
    assert_eq!(text.len(), 28_894);
}

#[tokio::test]
async fn a_restarted_task_continues_at_the_highest_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(dir.path(), "/bin/sh", &["-c", "echo again"]);
    std::fs::write(dir.path().join("task.stdout.4"), "before\n").unwrap();
    launch.logs.max_files = 2;
    let mut task = driver().start(&launch).await.unwrap();
    assert_eq!(task.wait().await.exit_code, 0);
    assert_eq!(
        joined_log(dir.path(), "stdout"),
        (vec![4], "before\nagain\n".to_string())
    );
}

#[tokio::test]
async fn disabled_logs_write_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch = launch(dir.path(), "/bin/sh", &["-c", "echo out; echo err >&2"]);
    launch.logs.disabled = true;
    let mut task = driver().start(&launch).await.unwrap();
    assert_eq!(task.wait().await.exit_code, 0);
    assert_eq!(joined_log(dir.path(), "stdout").0, Vec::<u64>::new());
    assert_eq!(joined_log(dir.path(), "stderr").0, Vec::<u64>::new());
}
