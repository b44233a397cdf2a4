//! `alloc signal`: a user's signal reaches the task (which traps it), an unknown signal
//! or task is refused with Nomad's words, and a task that is not running cannot be
//! signalled.

mod common;

use std::time::Duration;

use common::*;

const TRAPPING: &str = r#"job "trap" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/bash"
        args    = ["-c", "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"#;

#[test]
fn a_signal_reaches_the_task_and_bad_ones_are_refused() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let alloc = agent.run_job(cwd, "trap.nomad", TRAPPING, &[], "trap");
    agent.wait_for_alloc_status("trap", &["running"], "run", Duration::from_secs(20));
    let logs = || {
        let out = agent.cli(&["alloc", "logs", &alloc, "t"], cwd);
        stdout(&out)
    };
    agent.eventually("the task to be ready", Duration::from_secs(10), || {
        logs().contains("ready")
    });

    let sent = agent.cli(&["alloc", "signal", "-s", "SIGUSR1", &alloc, "t"], cwd);
    assert!(sent.status.success(), "{}{}", stdout(&sent), stderr(&sent));
    agent.eventually("the trap to fire", Duration::from_secs(10), || {
        logs().contains("got-usr1")
    });

    let bad = agent.cli(&["alloc", "signal", "-s", "SIGNOPE", &alloc], cwd);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("invalid signal: \"SIGNOPE\""),
        "{}",
        stderr(&bad)
    );
    let unknown = agent.cli(&["alloc", "signal", &alloc, "nope"], cwd);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("Could not find task named: nope"));

    // Still running: the trap kept the task alive; SIGKILL (the default) ends it.
    let killed = agent.cli(&["alloc", "signal", &alloc], cwd);
    assert!(killed.status.success(), "{}", stderr(&killed));
    agent.eventually("the task to be killed", Duration::from_secs(10), || {
        agent.task_state(&alloc, "t")["Events"]
            .as_array()
            .is_some_and(|events| events.iter().any(|e| e["Type"] == "Terminated"))
    });
}
