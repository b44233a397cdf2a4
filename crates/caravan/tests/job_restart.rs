//! `job restart` end to end on a `-dev` agent: allocations restarted in place in
//! batches, or rescheduled and followed to their running replacement, with Nomad's
//! lines; and the flag checks that need no agent to fail.

mod common;

use std::time::Duration;

use common::*;

const WORK: &str = r#"job "work" {
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {
    count = 3
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"#;

const WEB: &str = r#"job "web" {
  datacenters = ["dc1"]
  update {
    min_healthy_time = "1s"
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"#;

/// The lines of `out` without their `==> <time>: ` / `    <time>: ` stamps.
fn unstamped(out: &str) -> Vec<String> {
    out.lines()
        .map(|line| {
            let (prefix, rest) = if let Some(rest) = line.strip_prefix("==> ") {
                ("==> ", rest)
            } else if let Some(rest) = line.strip_prefix("    ") {
                ("    ", rest)
            } else {
                return line.to_string();
            };
            match rest.split_once(": ") {
                Some((_, text)) => format!("{prefix}{text}"),
                None => line.to_string(),
            }
        })
        .collect()
}

fn running_ids(agent: &Agent, job: &str) -> Vec<String> {
    let mut ids: Vec<String> = agent
        .allocations(job)
        .iter()
        .filter(|a| a["ClientStatus"] == "running")
        .map(|a| a["ID"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn restarts_in_batches_and_reschedules() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    agent.run_job(cwd, "work.nomad", WORK, &[], "work");
    agent.eventually("three running allocations", Duration::from_secs(30), || {
        running_ids(&agent, "work").len() == 3
    });
    let before = running_ids(&agent, "work");

    let out = agent.cli(&["job", "restart", "-yes", "-batch-size", "2", "work"], cwd);
    let text = succeeded(&out);
    let lines = unstamped(&text);
    let short = |id: &str| id[..8].to_string();
    let restarted = |id: &str| {
        format!(
            "    Restarting running tasks in allocation {:?} for group \"g\"",
            short(id)
        )
    };
    assert_eq!(lines[0], "==> Restarting 3 allocations", "{text}");
    assert_eq!(
        lines[1], "==> Restarting 1st batch of 2 allocations",
        "{text}"
    );
    assert_eq!(
        lines[4], "==> Restarting 2nd batch of 1 allocations",
        "{text}"
    );
    let mut restarted_lines: Vec<&String> = [&lines[2], &lines[3], &lines[5]].into();
    restarted_lines.sort();
    let mut want: Vec<String> = before.iter().map(|id| restarted(id)).collect();
    want.sort();
    assert_eq!(
        restarted_lines.into_iter().cloned().collect::<Vec<_>>(),
        want,
        "{text}"
    );
    assert_eq!(
        lines[6..],
        [
            "==> Job restart finished",
            "",
            "Job restarted successfully!"
        ],
        "{text}"
    );
    // Restarted in place: the same allocations, each task restarted once.
    agent.eventually("the tasks to run again", Duration::from_secs(30), || {
        running_ids(&agent, "work") == before
            && before
                .iter()
                .all(|id| agent.task_state(id, "t")["Restarts"] == 1)
    });

    // Rescheduled: the allocation is stopped and its replacement followed until it runs.
    let old = agent.run_job(cwd, "web.nomad", WEB, &[], "web");
    agent.wait_for_deployment("web");
    let out = agent.cli(
        &["job", "restart", "-reschedule", "-on-error", "fail", "web"],
        cwd,
    );
    let text = succeeded(&out);
    let lines = unstamped(&text);
    assert_eq!(lines[0], "==> Restarting 1 allocation", "{text}");
    assert_eq!(
        lines[1],
        format!(
            "    Rescheduling allocation {:?} for group \"g\"",
            short(&old)
        ),
        "{text}"
    );
    let replaced = lines
        .iter()
        .find(|l| l.contains(" replaced by "))
        .unwrap_or_else(|| panic!("no replacement line:\n{text}"));
    let new = replaced.split('"').nth(3).unwrap().to_string();
    assert_eq!(
        replaced,
        &format!(
            "    Allocation {:?} replaced by {new:?}, waiting for {new:?} to start running",
            short(&old)
        )
    );
    assert!(
        lines.contains(&format!("    Allocation {new:?} is \"running\"")),
        "{text}"
    );
    assert!(text.ends_with("\nJob restarted successfully!\n"), "{text}");
    assert_eq!(agent.allocation(&old)["DesiredStatus"], "stop");
    agent.stop_job("web", cwd);
    agent.stop_job("work", cwd);
}

#[test]
fn flags_are_checked_as_nomad_checks_them() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (
            &["job", "restart", "web"][..],
            "Invalid -on-error value \"ask\": \"ask\" cannot be used when terminal is not interactive",
        ),
        (
            &["job", "restart", "-yes", "-batch-size", "0", "web"][..],
            "Invalid -batch-size value \"0\": number value must be greater than zero",
        ),
        (
            &["job", "restart", "-yes", "-reschedule", "-task", "t", "web"][..],
            "The -reschedule option cannot be used with -task",
        ),
    ] {
        let out = agent.cli(args, dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            format!("{want}\nFor additional help try 'caravan job restart -help'\n")
        );
    }
    let out = agent.cli(&["job", "restart", "-yes", "nothing"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "No job(s) with prefix or ID \"nothing\" found"
    );
}
