//! Job settings that used to be decoded and then dropped, each now carried out (or
//! refused at submit, or warned about), as a Nomad user would see them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// `type = "batch"`, as [`job_hcl`] takes it.
const BATCH: &str = "  type = \"batch\"\n";

/// Starts a dev agent and runs a job on it from a scratch directory (see [`job_hcl`] for
/// the parts); answers the three.
fn start_and_run(
    name: &str,
    job_body: &str,
    group_body: &str,
) -> (DevAgent, tempfile::TempDir, std::process::Output) {
    let agent = DevAgent::start();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&agent, dir.path(), &job_hcl(name, job_body, group_body));
    (agent, dir, out)
}

/// Runs `job run -detach` on `hcl` and answers the output.
fn run(agent: &DevAgent, dir: &Path, hcl: &str) -> std::process::Output {
    let file = write(dir, "job.nomad", hcl);
    agent.cli(&["job", "run", "-detach", file.to_str().unwrap()], dir)
}

/// The events of `task` in the job's first allocation, as `type: message` lines.
fn events(agent: &DevAgent, job: &str, task: &str) -> Vec<String> {
    agent
        .allocations(job)
        .first()
        .and_then(|a| a["TaskStates"][task]["Events"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["Type"].as_str().unwrap_or(""),
                e["DisplayMessage"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Checks that `want` is one of `lines`.
fn assert_listed(lines: &[String], want: &str) {
    assert!(lines.iter().any(|line| line == want), "{lines:?}");
}

/// The first allocation's `alloc/logs/<task>.stdout.0`.
fn task_stdout(agent: &DevAgent, job: &str, task: &str, dir: &Path) -> String {
    let Some(alloc) = agent.allocations(job).first().cloned() else {
        return String::new();
    };
    let id = alloc["ID"].as_str().unwrap_or_default().to_string();
    stdout(&agent.cli(&["fs", &id, &format!("alloc/logs/{task}.stdout.0")], dir))
}

/// Runs a service job `job` of one raw_exec task `t` with `setting` running
/// `sh -c <script>` from a scratch directory (returned), waits for it to run, stops it
/// with `-detach`, and waits until its allocation is complete (`what` names that wait).
fn run_then_stop(
    agent: &DevAgent,
    job: &str,
    setting: &str,
    script: &str,
    what: &str,
) -> tempfile::TempDir {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let task = format!(
        r#"    task "t" {{
      driver = "raw_exec"
      {setting}
      config {{
        command = "/bin/sh"
        args = ["-c", "{script}"]
      }}
    }}"#
    );
    let out = run(agent, dir, &job_hcl(job, "", &task));
    assert!(out.status.success(), "{}", stderr(&out));
    agent.eventually("the task to run", Duration::from_secs(20), || {
        status_of(agent, job) == "running"
    });
    let stop = agent.cli(&["job", "stop", "-detach", job], dir);
    assert!(stop.status.success(), "{}", stderr(&stop));
    agent.eventually(what, Duration::from_secs(20), || {
        status_of(agent, job) == "complete"
    });
    scratch
}

fn status_of(agent: &DevAgent, job: &str) -> String {
    agent
        .allocations(job)
        .first()
        .map(|a| a["ClientStatus"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn when_the_leader_task_ends_the_others_are_stopped() {
    let (agent, _dir, out) = start_and_run(
        "lead",
        BATCH,
        r#"    task "leader" {
      leader = true
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "sleep 0.3"]
      }
    }
    task "follower" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args = ["1000"]
      }
    }"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    agent.eventually(
        "the allocation to complete",
        Duration::from_secs(20),
        || status_of(&agent, "lead") == "complete",
    );
    let follower = events(&agent, "lead", "follower");
    assert_listed(&follower, "Leader Task Dead: Leader Task in Group dead");
}

#[test]
fn shutdown_delay_lets_the_task_run_on_before_its_kill_signal() {
    let agent = DevAgent::start();
    let dir = run_then_stop(
        &agent,
        "delay",
        r#"shutdown_delay = "1s""#,
        "trap 'echo got-signal; exit 0' INT; while true; do sleep 0.1; done",
        "the task to be killed",
    );
    let events = events(&agent, "delay", "t");
    let waiting = events.iter().position(|e| {
        e == "Waiting for shutdown delay: Waiting for shutdown_delay of 1s before killing the task."
    });
    let killing = events.iter().position(|e| e.starts_with("Killing: "));
    assert!(waiting.is_some() && waiting < killing, "{events:?}");
    assert_eq!(
        task_stdout(&agent, "delay", "t", dir.path()),
        "got-signal\n"
    );
}

#[test]
fn a_dispatch_payload_is_written_to_the_task_directory() {
    let (agent, dir, out) = start_and_run(
        "report",
        "  type = \"batch\"\n  parameterized {\n    payload = \"required\"\n  }\n",
        r#"    task "t" {
      driver = "raw_exec"
      dispatch_payload {
        file = "input/payload.txt"
      }
      config {
        command = "/bin/cat"
        args = ["local/input/payload.txt"]
      }
    }"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let payload = write(dir.path(), "payload.txt", "hello from the dispatcher\n");
    let dispatch = agent.cli(
        &[
            "job",
            "dispatch",
            "-detach",
            "report",
            payload.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(dispatch.status.success(), "{}", stderr(&dispatch));
    let child = agent.read(|api| api.jobs("report/")).unwrap()[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    // The client escapes the child's `/` in the path, as Nomad's Go client does.
    agent.eventually("the child to complete", Duration::from_secs(20), || {
        status_of(&agent, &child) == "complete"
    });
    assert_eq!(
        task_stdout(&agent, &child, "t", dir.path()),
        "hello from the dispatcher\n"
    );
}

#[test]
fn driver_settings_denied_envvars_and_oom_score_adj_reach_the_task() {
    let (agent, dir, out) = start_and_run(
        "settings",
        BATCH,
        r#"    task "t" {
      driver = "raw_exec"
      env {
        SECRET_TOKEN = "s3cr3t"
        KEEP_ME = "kept"
      }
      config {
        command = "/bin/sh"
        args = ["-c", "echo token=$${SECRET_TOKEN:-none} keep=$KEEP_ME oom=$(cat /proc/self/oom_score_adj)"]
        denied_envvars = ["SECRET_*"]
        oom_score_adj = 500
      }
    }"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    agent.eventually("the task to complete", Duration::from_secs(20), || {
        status_of(&agent, "settings") == "complete"
    });
    assert_eq!(
        task_stdout(&agent, "settings", "t", dir.path()),
        "token=none keep=kept oom=500\n"
    );
}

#[test]
fn max_kill_timeout_caps_a_tasks_kill_timeout() {
    let agent = Agent::with_config(&["-dev"], "client {\n  max_kill_timeout = \"1s\"\n}\n");
    agent.wait_for_ready_nodes(1);
    let _dir = run_then_stop(
        &agent,
        "stubborn",
        r#"kill_timeout = "60s""#,
        "trap '' INT; while true; do sleep 0.1; done",
        "the task to be force-killed",
    );
    let events = events(&agent, "stubborn", "t");
    assert_listed(
        &events,
        "Killing: Sent interrupt. Waiting 1s before force killing",
    );
}

#[test]
fn a_task_config_is_checked_at_submit_against_its_drivers_schema() {
    let (agent, _dir, out) = start_and_run(
        "typo",
        "",
        r#"    task "t" {
      driver = "exec"
      config {
        comand = "/bin/true"
        pid_mode = "shared"
      }
    }"#,
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    for want in [
        "task \"t\": config: unknown key \"comand\" for driver \"exec\"; it accepts command, args, pid_mode",
        "task \"t\": config: missing required key \"command\" for driver \"exec\"",
        "task \"t\": config: \"pid_mode\" must be \"private\" or \"host\", got \"shared\"",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    assert!(agent.allocations("typo").is_empty());
}
