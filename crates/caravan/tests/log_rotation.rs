//! Task logs end to end on a dev agent: rotation per the `logs` block while a follower
//! reads every line across the files, `alloc logs -tail`, and `logs { disabled }`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use caravan_testkit::require_exec;
use common::*;

/// Lines the chatty task writes: 1,100,000 of 48 bytes, about 50 MB.
const LINES: u64 = 1_100_000;

/// Line `n` of the chatty task's output (47 characters; 48 bytes with its newline).
fn line(n: u64) -> String {
    format!("{n:08} the chatty task says hello to the logs")
}

/// A batch job `name` whose task `t` (under `driver`) prints `ready`, waits for the
/// file `local/go`, then writes [`LINES`] numbered lines in bursts of 120 KB, with
/// `logs { max_files = 3, max_file_size = 1 }`.
fn chatty_job(name: &str, driver: &str) -> String {
    // awk paces itself (a burst, then 20 ms) so that a follower on a busy machine stays
    // within the three files kept; `system` flushes awk's output first.
    let script = format!(
        "echo ready; while [ ! -f \"$NOMAD_TASK_DIR/go\" ]; do sleep 0.05; done; \
         awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) {{ \
         printf \"%08d the chatty task says hello to the logs\\n\", i; \
         if (i % 2500 == 0) system(\"sleep 0.02\") }} }}'"
    );
    let args = serde_json::to_string(&["-c", script.as_str()]).unwrap();
    batch_job_hcl(
        name,
        &format!(
            r#"    task "t" {{
      driver = "{driver}"
      config {{
        command = "/bin/sh"
        args    = {args}
      }}
      logs {{
        max_files     = 3
        max_file_size = 1
      }}
    }}"#
        ),
    )
}

/// `caravan alloc logs -f -stdout <alloc> t`, its output going to `out`.
fn follower(agent: &DevAgent, alloc_id: &str, out: &Path) -> KilledOnDrop {
    let file = std::fs::File::create(out).unwrap();
    let child = Command::new(binary())
        .args(["alloc", "logs", "-f", "-stdout", alloc_id, "t"])
        .env("CARAVAN_ADDR", agent.addr())
        .env_remove("NOMAD_ADDR")
        .stdout(file)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    KilledOnDrop(child)
}

/// A CLI process the test started, killed if the test ends before it does.
struct KilledOnDrop(Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The stream's log files of task `t`, as (index, size), lowest index first.
fn log_files(agent: &DevAgent, alloc_id: &str, stream: &str) -> Vec<(u64, u64)> {
    let dir = logs_dir(agent, alloc_id);
    caravan_drivers::log_rotation::log_indexes(&dir, "t", stream)
        .unwrap()
        .into_iter()
        .map(|i| {
            let size = std::fs::metadata(dir.join(format!("t.{stream}.{i}")))
                .unwrap()
                .len();
            (i, size)
        })
        .collect()
}

fn logs_dir(agent: &DevAgent, alloc_id: &str) -> PathBuf {
    agent
        .data_dir()
        .join("alloc")
        .join(alloc_id)
        .join("alloc/logs")
}

/// Runs the chatty job under `driver` with a follower started before its output, and
/// checks what the follower saw, the files left, and `alloc logs -tail`.
fn chatty_task_rotates_and_is_followed(driver: &str) {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let job = format!("chatty-{}", driver.replace('_', "-"));
    let alloc_id = agent.run_job(
        work.path(),
        "chatty.nomad",
        &chatty_job(&job, driver),
        &["-hcl1"],
        &job,
    );
    let followed = work.path().join("followed");
    let mut follow = follower(&agent, &alloc_id, &followed);
    agent.eventually(
        "the follower to print the task's first line",
        Duration::from_secs(30),
        || std::fs::read_to_string(&followed).is_ok_and(|text| text == "ready\n"),
    );
    // The task's own directory: the host's path (raw_exec) or what the chroot's
    // /local is (exec).
    let task_local = agent
        .data_dir()
        .join("alloc")
        .join(&alloc_id)
        .join("t/local");
    std::fs::write(task_local.join("go"), "").unwrap();
    let alloc = agent.wait_for_alloc_status(
        &job,
        &["complete", "failed"],
        "finish",
        Duration::from_secs(180),
    );
    assert_eq!(alloc["ClientStatus"], "complete", "{alloc:#}");
    // The follower ends once the task is dead and everything is read.
    let mut exited = false;
    agent.eventually("the follower to finish", Duration::from_secs(60), || {
        exited = follow.0.try_wait().unwrap().is_some();
        exited
    });

    // Every line, in order, once.
    let reader = BufReader::new(std::fs::File::open(&followed).unwrap());
    let mut lines = reader.lines().map(Result::unwrap);
    assert_eq!(lines.next().as_deref(), Some("ready"));
    let mut expected = 1;
    for got in lines {
        assert_eq!(
            got,
            line(expected),
            "the follower's line {expected} is wrong (a gap or a duplicate)"
        );
        expected += 1;
    }
    assert_eq!(expected - 1, LINES, "the follower missed the tail");

    // At most three files of at most 1 MB each are left, the newest holding the end.
    let files = log_files(&agent, &alloc_id, "stdout");
    assert!(
        !files.is_empty() && files.len() <= 3,
        "expected 1 to 3 stdout files, found {files:?}"
    );
    for (index, size) in &files {
        assert!(
            *size <= 1024 * 1024,
            "t.stdout.{index} is {size} bytes, above max_file_size"
        );
    }
    // 50 MB in files of 1 MB: the index rose to 50.
    assert!(files.last().unwrap().0 >= 50, "{files:?}");
    let last = std::fs::read_to_string(
        logs_dir(&agent, &alloc_id).join(format!("t.stdout.{}", files.last().unwrap().0)),
    )
    .unwrap();
    assert!(last.ends_with(&format!("{}\n", line(LINES))), "{last:.100}");

    let tail = succeeded(&agent.cli(
        &["alloc", "logs", "-tail", "-n", "5", &alloc_id, "t"],
        work.path(),
    ));
    let want: String = (LINES - 4..=LINES).map(|n| line(n) + "\n").collect();
    assert_eq!(tail, want);
    let bytes = succeeded(&agent.cli(
        &["alloc", "logs", "-tail", "-c", "100", &alloc_id, "t"],
        work.path(),
    ));
    let last_lines: String = (LINES - 2..=LINES).map(|n| line(n) + "\n").collect();
    let want = &last_lines[last_lines.len() - 100..];
    assert_eq!(bytes, want);
    // Back across the newest file's start (it holds about 371 KB) into the one before.
    let far = succeeded(&agent.cli(
        &["alloc", "logs", "-tail", "-c", "1000000", &alloc_id, "t"],
        work.path(),
    ));
    let enough: String = (LINES - 20_900..=LINES).map(|n| line(n) + "\n").collect();
    assert!(
        far == enough[enough.len() - 1_000_000..],
        "-c 1000000 is not the last 1,000,000 bytes"
    );
}

#[test]
fn a_raw_exec_task_writing_50_mb_rotates_and_a_follower_sees_every_line() {
    chatty_task_rotates_and_is_followed("raw_exec");
}

#[test]
fn an_exec_task_rotates_too() {
    require_exec!();
    chatty_task_rotates_and_is_followed("exec");
}

#[test]
fn disabled_logs_write_no_file_and_alloc_logs_says_so() {
    let agent = DevAgent::start();
    let work = tempfile::tempdir().unwrap();
    let job = batch_job_hcl(
        "quiet",
        r#"    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo nobody reads this; echo nor this >&2"]
      }
      logs {
        disabled = true
      }
    }"#,
    );
    let alloc_id = agent.run_job(work.path(), "quiet.nomad", &job, &["-hcl1"], "quiet");
    let alloc = agent.wait_for_alloc_status(
        "quiet",
        &["complete", "failed"],
        "finish",
        Duration::from_secs(30),
    );
    assert_eq!(alloc["ClientStatus"], "complete", "{alloc:#}");
    assert_eq!(log_files(&agent, &alloc_id, "stdout"), []);
    assert_eq!(log_files(&agent, &alloc_id, "stderr"), []);
    let logs = agent.cli(&["alloc", "logs", &alloc_id, "t"], work.path());
    assert_eq!(logs.status.code(), Some(1));
    assert!(
        stderr(&logs).contains("log entry for task \"t\" and log type \"stdout\" not found"),
        "{}",
        stderr(&logs)
    );
}

#[test]
fn output_is_copied_and_rotated_while_the_client_agent_is_killed() {
    let Cluster {
        server,
        mut clients,
    } = Cluster::start(SERVER_CONFIG, 1, |server, n| {
        workshop_client_config(server.rpc_port, n, true)
    });
    let client = &mut clients[0];
    let work = tempfile::tempdir().unwrap();
    let job = job_hcl(
        "chatter",
        "",
        r#"    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo begin; while [ ! -f \"$NOMAD_TASK_DIR/go\" ]; do sleep 0.05; done; seq 1 400000; exec sleep 300"]
      }
      logs {
        max_files     = 2
        max_file_size = 1
      }
    }"#,
    );
    let alloc_id = server.run_job(work.path(), "chatter.nomad", &job, &["-hcl1"], "chatter");
    let logs = client
        .data_dir()
        .join("alloc")
        .join(&alloc_id)
        .join("alloc/logs");
    server.eventually("the task's first line", Duration::from_secs(30), || {
        std::fs::read_to_string(logs.join("t.stdout.0")).is_ok_and(|text| text == "begin\n")
    });

    client.kill9();
    // Written while no agent runs: the executor copies and rotates it all the same.
    let task_local = logs.parent().unwrap().parent().unwrap().join("t/local");
    std::fs::write(task_local.join("go"), "").unwrap();
    let newest = || {
        let indexes = caravan_drivers::log_rotation::log_indexes(&logs, "t", "stdout").unwrap();
        let last = *indexes.last().unwrap();
        (
            indexes,
            std::fs::read_to_string(logs.join(format!("t.stdout.{last}"))).unwrap(),
        )
    };
    server.eventually(
        "the task's last line in its newest log file",
        Duration::from_secs(30),
        || newest().1.ends_with("\n400000\n"),
    );
    // begin and seq 1 400000 are 2,688,901 bytes: files 0, 1 and 2 of 1 MiB, the first
    // one deleted.
    assert_eq!(newest().0, [1, 2]);

    client.spawn(&[]);
    server.eventually(
        "the log through the restarted client",
        Duration::from_secs(30),
        || {
            let tail = server.cli(
                &["alloc", "logs", "-tail", "-n", "2", &alloc_id, "t"],
                work.path(),
            );
            stdout(&tail) == "399999\n400000\n"
        },
    );
    server.stop_job("chatter", work.path());
}
