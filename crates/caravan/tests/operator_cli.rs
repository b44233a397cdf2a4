//! The operator's verbs end to end on a `-dev` agent, their output laid out as Nomad's:
//! `eval list` (filters, pages), `operator scheduler get-config|set-config`,
//! `eval delete` (refused until the eval broker is paused), `node status <id>` with its
//! utilization sections and `-stats`, and `node drain` with a deadline and
//! `-ignore-system` (the node keeps its `DrainStrategy` while the drain lasts).

mod common;

use std::time::Duration;

use caravan_api_client::Method;
use common::*;

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Runs the CLI and hands back (exit code, stdout, stderr).
fn cli(agent: &Agent, args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let out = agent.cli(args, cwd);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
fn eval_list_scheduler_config_and_eval_delete() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    for (job, datacenter) in [("done", "dc1"), ("stuck", NO_CLIENTS)] {
        let (status, body) =
            agent.send_json(Method::Put, "/v1/jobs", &true_batch_job(job, datacenter));
        assert_eq!(status, 200, "{body}");
    }
    agent.wait_for_alloc_status("done", &["complete"], "finish", Duration::from_secs(30));
    agent.eventually(
        "the stuck job's blocked evaluation",
        Duration::from_secs(10),
        || {
            agent
                .get_json("/v1/evaluations?job=stuck&status=blocked")
                .is_ok_and(|e| e.as_array().is_some_and(|a| a.len() == 1))
        },
    );

    let (code, out, err) = cli(&agent, &["eval", "list"], cwd);
    assert_eq!(code, 0, "{err}");
    let table = lines(&out);
    assert_eq!(
        table[0].split_whitespace().collect::<Vec<_>>().join(" "),
        "ID Priority Triggered By Job ID Namespace Node ID Status Placement Failures"
    );
    assert!(
        table
            .iter()
            .any(|l| l.contains(" done ") && l.contains("complete")),
        "{out}"
    );
    assert!(
        table
            .iter()
            .any(|l| l.contains(" stuck ") && l.ends_with("N/A - In Progress")),
        "{out}"
    );

    let (_, only_done, _) = cli(&agent, &["eval", "list", "-job", "done"], cwd);
    assert!(
        lines(&only_done)[1..].iter().all(|l| l.contains(" done ")),
        "{only_done}"
    );
    let (_, blocked, _) = cli(&agent, &["eval", "list", "-status", "blocked"], cwd);
    assert_eq!(lines(&blocked).len(), 2, "{blocked}");
    let (_, filtered, _) = cli(
        &agent,
        &["eval", "list", "-filter", "JobID == \"stuck\""],
        cwd,
    );
    assert!(
        lines(&filtered)[1..].iter().all(|l| l.contains(" stuck ")),
        "{filtered}"
    );
    let (_, none, _) = cli(&agent, &["eval", "list", "-job", "nothing"], cwd);
    assert_eq!(none.trim(), "No evals found");

    let (code, paged, _) = cli(&agent, &["eval", "list", "-per-page", "1"], cwd);
    assert_eq!(code, 0);
    let paged = lines(&paged);
    assert_eq!(paged.len(), 6, "{paged:?}");
    assert_eq!(
        paged[3],
        "Results have been paginated. To get the next page run:"
    );
    let token = paged[5].rsplit(' ').next().unwrap().to_string();
    assert!(
        paged[5].contains("eval list -per-page 1 -page-token "),
        "{paged:?}"
    );
    let (_, next, _) = cli(
        &agent,
        &["eval", "list", "-per-page", "1", "-page-token", &token],
        cwd,
    );
    assert_ne!(
        lines(&next)[1],
        paged[1],
        "the second page starts elsewhere"
    );

    let (code, json, _) = cli(&agent, &["eval", "list", "-json"], cwd);
    assert_eq!(code, 0);
    let evals: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(evals.as_array().unwrap().len() >= 2);

    // Deleting needs the eval broker paused.
    let done_eval = agent.get_json("/v1/evaluations?job=done").unwrap()[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out, err) = cli(&agent, &["eval", "delete", &done_eval], cwd);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "Eval broker is not paused");
    assert!(out.contains("-pause-eval-broker=true"), "{out}");
    let (status, body) = agent.send_json(
        Method::Delete,
        "/v1/evaluations",
        &serde_json::json!({"EvalIDs": [done_eval]}),
    );
    assert_eq!(
        (status, body.as_str()),
        (
            500,
            "eval broker is enabled; eval broker must be paused to delete evals"
        )
    );

    let (code, out, _) = cli(
        &agent,
        &[
            "operator",
            "scheduler",
            "set-config",
            "-pause-eval-broker=true",
        ],
        cwd,
    );
    assert_eq!((code, out.trim()), (0, "Scheduler configuration updated!"));
    let (_, config, _) = cli(&agent, &["operator", "scheduler", "get-config"], cwd);
    assert!(
        config.contains("Pause Eval Broker             = true\n"),
        "{config}"
    );
    assert!(
        config.starts_with("Scheduler Algorithm           = binpack\n"),
        "{config}"
    );

    let (code, out, err) = cli(&agent, &["eval", "delete", &done_eval[..8]], cwd);
    assert_eq!(
        (code, out.trim()),
        (0, "Successfully deleted 1 evaluation"),
        "{err}"
    );
    assert!(
        agent
            .get_json(&format!("/v1/evaluation/{done_eval}"))
            .is_err()
    );
    let (code, out, err) = cli(
        &agent,
        &["eval", "delete", "-yes", "-filter", "Status == \"blocked\""],
        cwd,
    );
    assert_eq!(
        (code, out.trim()),
        (0, "Successfully deleted 1 evaluation"),
        "{err}"
    );
    let (code, _, err) = cli(&agent, &["eval", "delete"], cwd);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "Error validating command args and flags: evaluation ID or filter flag required"
    );

    let (code, _, _) = cli(
        &agent,
        &[
            "operator",
            "scheduler",
            "set-config",
            "-pause-eval-broker=false",
        ],
        cwd,
    );
    assert_eq!(code, 0);
    // The broker hands out work again.
    let (status, _) = agent.send_json(Method::Put, "/v1/jobs", &true_batch_job("after", "dc1"));
    assert_eq!(status, 200);
    agent.wait_for_alloc_status("after", &["complete"], "finish", Duration::from_secs(30));
}

const SYSTEM: &str = r#"job "agent" {
  datacenters = ["dc1"]
  type        = "system"
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

const BATCH: &str = r#"job "report" {
  datacenters = ["dc1"]
  type        = "batch"
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

#[test]
fn node_status_shows_usage_and_a_drain_keeps_its_strategy() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let node = agent.node_id().to_string();
    agent.run_job(cwd, "agent.nomad", SYSTEM, &[], "agent");
    agent.run_job(cwd, "report.nomad", BATCH, &[], "report");
    for job in ["agent", "report"] {
        agent.wait_for_alloc_status(job, &["running"], "run", Duration::from_secs(30));
    }

    let (code, out, err) = cli(&agent, &["node", "status", &node], cwd);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\nUptime          = "), "{out}");
    assert!(out.contains("\nDrain           = false\n"), "{out}");
    let section = |title: &str| -> Vec<String> {
        let after = out
            .split(&format!("\n\n{title}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {title} section:\n{out}"));
        after.lines().take(2).map(str::to_string).collect()
    };
    let allocated = section("Allocated Resources");
    assert_eq!(
        allocated[0].split_whitespace().collect::<Vec<_>>(),
        ["CPU", "Memory", "Disk"]
    );
    assert!(allocated[1].starts_with("40/"), "{allocated:?}");
    let used = section("Allocation Resource Utilization");
    assert_eq!(
        used[0].split_whitespace().collect::<Vec<_>>(),
        ["CPU", "Memory"]
    );
    assert!(used[1].contains(" MHz"), "{used:?}");
    let host = section("Host Resource Utilization");
    assert_eq!(
        host[0].split_whitespace().collect::<Vec<_>>(),
        ["CPU", "Memory", "Disk"]
    );
    assert!(host[1].contains("iB/"), "{host:?}");
    assert!(!out.contains("\nCPU Stats\n"), "{out}");

    let (_, stats, _) = cli(&agent, &["node", "status", "-stats", &node], cwd);
    for title in ["CPU Stats", "Memory Stats", "Disk Stats"] {
        assert!(stats.contains(&format!("\n\n{title}\n")), "{stats}");
    }
    assert!(stats.contains("\nCPU    = cpu0\nUser   = "), "{stats}");
    assert!(stats.contains("\nUsed Percent   = "), "{stats}");

    // A drain with a deadline that leaves system jobs: the batch allocation is left to
    // finish, the system one stays, and the node shows the drain until it ends.
    let (code, out, err) = cli(
        &agent,
        &[
            "node",
            "drain",
            "-enable",
            "-deadline",
            "1m",
            "-ignore-system",
            "-detach",
            "-yes",
            &node,
        ],
        cwd,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("Node {node:?} drain strategy set"));
    let read = agent.get_json(&format!("/v1/node/{node}")).unwrap();
    let strategy = &read["DrainStrategy"];
    assert_eq!(
        strategy["DrainSpec"],
        serde_json::json!({"Deadline": 60_000_000_000i64, "IgnoreSystemJobs": true})
    );
    let started = strategy["StartedAt"].as_str().unwrap();
    let deadline = strategy["ForceDeadline"].as_str().unwrap();
    assert!(deadline > started, "{strategy}");
    let (_, status, _) = cli(&agent, &["node", "status", &node], cwd);
    let drain_line = status
        .lines()
        .find(|l| l.starts_with("Drain "))
        .unwrap()
        .to_string();
    assert!(
        drain_line.starts_with("Drain           = true; ")
            && drain_line.ends_with(" deadline; ignoring system jobs"),
        "{drain_line}"
    );
    std::thread::sleep(Duration::from_millis(500));
    for job in ["agent", "report"] {
        assert_eq!(
            agent.allocations(job)[0]["ClientStatus"],
            "running",
            "{job}'s allocation was left in place"
        );
    }
    assert_eq!(
        agent.get_json(&format!("/v1/node/{node}")).unwrap()["Drain"],
        true
    );

    // Forced: what is left goes now, and the drain ends without a strategy.
    let (code, out, err) = cli(
        &agent,
        &["node", "drain", "-enable", "-force", "-yes", &node],
        cwd,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Drain complete for node"), "{out}");
    agent.wait_for_alloc_status(
        "report",
        &["complete", "failed"],
        "stop",
        Duration::from_secs(30),
    );
    let read = agent.get_json(&format!("/v1/node/{node}")).unwrap();
    assert_eq!(read["DrainStrategy"], serde_json::Value::Null, "{read}");
    assert_eq!(read["Drain"], false);
    // This drain did not ignore system jobs: the system allocation was stopped too.
    assert_ne!(agent.allocations("agent")[0]["ClientStatus"], "running");
}
