//! The workshop's cluster: one server and three clients as separate processes, configured
//! from the workshop's files (ports and data_dir made free for the test, bound to
//! 127.0.0.1).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use caravan_structs::NodeId;
use common::*;

const SPREAD_NOMAD: &str = include_str!("../../../examples/workshop/exec-spread.nomad");
const CONSTRAINT_NOMAD: &str = include_str!("../../../examples/workshop/exec-constraint.nomad");

/// A server of one with short heartbeats, so that a dead client is noticed within the
/// test's patience.
const SERVER: &str = r#"bind_addr = "127.0.0.1"
server {
  enabled           = true
  bootstrap_expect  = 1
  min_heartbeat_ttl = "1s"
  heartbeat_grace   = "1s"
}
"#;

/// `clients` workshop clients (raw_exec on those `raw_exec` picks) joined to a server:
/// the server and the clients.
fn workshop_cluster(clients: usize, raw_exec: impl Fn(usize) -> bool) -> (Agent, Vec<Agent>) {
    let Cluster { server, clients } = Cluster::start(SERVER, clients, |server, n| {
        workshop_client_config(server.rpc_port, n, raw_exec(n))
    });
    (server, clients)
}

/// Waits (`what`) until every allocation of `hello-exec-batch` is complete.
fn every_alloc_completes(server: &Agent, what: &str) {
    server.eventually(what, Duration::from_secs(15), || {
        server
            .allocations("hello-exec-batch")
            .iter()
            .all(|a| a["ClientStatus"] == "complete")
    });
}

#[test]
fn workshop_cluster_runs_raw_exec_on_client_1_then_spreads_over_three() {
    let (server, mut clients) = workshop_cluster(3, |n| n == 1);
    let ids: Vec<NodeId> = clients.iter().map(Agent::node_id).collect();

    let work = tempfile::tempdir().unwrap();
    write(work.path(), "exec.nomad", WORKSHOP_EXEC_JOB);
    let run = server.cli(&["job", "run", "-hcl1", "exec.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let alloc = server.allocations("hello-exec-batch")[0].clone();
    let alloc_id = alloc["ID"].as_str().unwrap().to_string();
    assert_eq!(
        alloc["NodeID"],
        ids[0].as_str(),
        "raw_exec must go to client-1"
    );
    let mut log = String::new();
    server.eventually(
        "the log through the server",
        Duration::from_secs(10),
        || {
            log = stdout(&server.cli(&["fs", &alloc_id, "alloc/logs/echo.stdout.0"], work.path()));
            log == "Hi Nomad Exec Driver\n"
        },
    );
    let stop = server.cli(&["job", "stop", "-purge", "hello-exec-batch"], work.path());
    assert!(stop.status.success());
    server.eventually("the task to stop", Duration::from_secs(10), || {
        processes_of_alloc(&alloc_id).is_empty()
    });

    // The spread step: raw_exec on every client, restarted the way ./run.sh does.
    for (n, client) in clients.iter_mut().enumerate() {
        client.stop();
        client.set_config(&workshop_client_config(server.rpc_port, n + 1, true));
        client.spawn(&[]);
    }
    server.eventually(
        "three ready nodes with raw_exec",
        Duration::from_secs(20),
        || {
            ids.iter().all(|id| {
                server
                    .read(|api| api.node(id, Default::default()))
                    .is_ok_and(|n| {
                        n["Status"] == "ready" && n["Attributes"]["driver.raw_exec"] == "1"
                    })
            })
        },
    );
    for (n, id) in ids.iter().enumerate() {
        let node = server.read(|api| api.node(id, Default::default())).unwrap();
        assert_eq!(node["Meta"]["Name"], format!("client-{}", n + 1));
        // The configured free disk, not the machine's, is what the workshop places against.
        assert_eq!(node["NodeResources"]["Disk"]["DiskMB"], TEST_DISK_FREE_MB);
    }
    let status = stdout(&server.cli(&["node", "status"], work.path()));
    assert_eq!(
        status.lines().filter(|l| l.ends_with("ready")).count(),
        3,
        "{status}"
    );

    write(work.path(), "exec-spread.nomad", SPREAD_NOMAD);
    let run = server.cli(&["job", "run", "-hcl1", "exec-spread.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let mut per_node: BTreeMap<NodeId, usize> = BTreeMap::new();
    for alloc in server.allocations("hello-exec-batch") {
        *per_node
            .entry(alloc["NodeID"].as_str().unwrap().into())
            .or_default() += 1;
    }
    let counts: Vec<usize> = ids
        .iter()
        .map(|id| per_node.get(id).copied().unwrap_or(0))
        .collect();
    assert_eq!(counts, [5, 0, 5], "spread 50/0/50 over client-1..3");

    // 70/20/10: a new version of the job, placed 7/2/1; both versions stay listed. As in
    // the workshop, the first version's echo tasks have completed by then (a spread change
    // alone would otherwise move running allocations to the new version in place).
    every_alloc_completes(&server, "the first version to complete");
    let retargeted = SPREAD_NOMAD
        .replace(
            "percent = 50\n      }\n      target \"client-2\" {\n        percent = 0",
            "percent = 70\n      }\n      target \"client-2\" {\n        percent = 20",
        )
        .replace(
            "target \"client-3\" {\n        percent = 50",
            "target \"client-3\" {\n        percent = 10",
        );
    assert!(retargeted.contains("percent = 70") && retargeted.contains("percent = 10"));
    write(work.path(), "exec-spread.nomad", &retargeted);
    let run = server.cli(&["job", "run", "-hcl1", "exec-spread.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let allocs = server.allocations("hello-exec-batch");
    let version = allocs
        .iter()
        .map(|a| a["JobVersion"].as_u64().unwrap())
        .max()
        .unwrap();
    let counts: Vec<usize> = ids
        .iter()
        .map(|id| {
            allocs
                .iter()
                .filter(|a| a["JobVersion"] == version && a["NodeID"] == id.as_str())
                .count()
        })
        .collect();
    assert_eq!(counts, [7, 2, 1], "spread 70/20/10 over client-1..3");
    let status = stdout(&server.cli(&["job", "status", "hello-exec-batch"], work.path()));
    assert!(
        status.contains("ID        Node ID   Task Group  Version  Desired  Status    Created"),
        "{status}"
    );
    assert_eq!(
        status.lines().filter(|l| l.contains(" example ")).count(),
        20,
        "{status}"
    );

    // The constraint step: a mismatched OS fails with Nomad's explanation and leaves a
    // blocked evaluation; the machine's own OS places all 10.
    every_alloc_completes(&server, "the second version to complete");
    write(work.path(), "exec-constraint.nomad", CONSTRAINT_NOMAD);
    let run = server.cli(
        &["job", "run", "-hcl1", "exec-constraint.nomad"],
        work.path(),
    );
    let out = stdout(&run);
    assert_eq!(run.status.code(), Some(2), "{out}");
    assert!(
        out.contains("finished with status \"complete\" but failed to place all allocations:"),
        "{out}"
    );
    assert!(
        out.contains("    Task Group \"example\" (failed to place 10 allocations):"),
        "{out}"
    );
    assert!(
        out.contains("      * Constraint \"${attr.os.name} = windows\" filtered 3 nodes"),
        "{out}"
    );
    assert!(
        out.contains("waiting for additional capacity to place remainder"),
        "{out}"
    );
    let os = server
        .read(|api| api.node(&ids[0], Default::default()))
        .unwrap()["Attributes"]["os.name"]
        .as_str()
        .unwrap()
        .to_string();
    write(
        work.path(),
        "exec-constraint.nomad",
        &CONSTRAINT_NOMAD.replace("windows", &os),
    );
    let run = server.cli(
        &["job", "run", "-hcl1", "exec-constraint.nomad"],
        work.path(),
    );
    let out = stdout(&run);
    assert!(run.status.success(), "{out}{}", stderr(&run));
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("Allocation \"") && l.contains("created: node"))
            .count(),
        10,
        "{out}"
    );
    assert!(out.contains("finished with status \"complete\"\n"), "{out}");
    server.stop_job("hello-exec-batch", work.path());
}

#[test]
fn a_killed_client_goes_down_and_its_service_moves() {
    let (server, mut clients) = workshop_cluster(2, |_| true);
    let ids: Vec<NodeId> = clients.iter().map(Agent::node_id).collect();
    let work = tempfile::tempdir().unwrap();
    write(
        work.path(),
        "web.nomad",
        r#"job "web" {
  datacenters = ["dc1"]
  # job run waits for the deployment: keep it short.
  update {
    min_healthy_time = "1s"
  }
  group "web" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
    }
  }
}
"#,
    );
    let run = server.cli(&["job", "run", "-hcl1", "web.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let first = server.allocations("web")[0].clone();
    let first_id = first["ID"].as_str().unwrap().to_string();
    server.eventually("the service to run", Duration::from_secs(10), || {
        server.allocations("web")[0]["ClientStatus"] == "running"
    });
    let victim = ids
        .iter()
        .position(|id| first["NodeID"] == id.as_str())
        .unwrap();
    clients[victim].kill9();

    server.eventually(
        "the node to be down and the service replaced",
        Duration::from_secs(15),
        || {
            let node = server
                .read(|api| api.node(&ids[victim], Default::default()))
                .unwrap_or_default();
            let allocs = server.allocations("web");
            node["Status"] == "down"
                && allocs
                    .iter()
                    .any(|a| a["ID"] == first_id.as_str() && a["ClientStatus"] == "lost")
                && allocs.iter().any(|a| {
                    a["NodeID"] == ids[1 - victim].as_str() && a["ClientStatus"] == "running"
                })
        },
    );
    let node = server
        .read(|api| api.node(&ids[victim], Default::default()))
        .unwrap();
    let events: Vec<&str> = node["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Message"].as_str())
        .collect();
    assert!(events.contains(&"Node heartbeat missed"), "{events:?}");
    // The killed client's task outlived it; the test cleans up after itself.
    kill_processes_of_alloc(&first_id);
    server.stop_job("web", work.path());
}

#[test]
fn bad_agent_configs_fail_at_start_with_one_clear_line() {
    let cases = [
        (
            "datacentre = \"dc1\"\nserver {\n  enabled = true\n}\n",
            "unknown key \"datacentre\"",
        ),
        (
            "server {\n  enabled = true\n  bootstrap_expect = \"one\"\n}\n",
            "\"bootstrap_expect\" must be a number",
        ),
        (
            "client {\n  enabled = true\n  servers = [\"no-such-host.invalid:4647\"]\n}\n",
            "cannot resolve \"no-such-host.invalid:4647\"",
        ),
    ];
    for (config, want) in cases {
        let agent = Agent::with_config(&[], config);
        let mut out = String::new();
        agent.eventually(
            "the agent to refuse its configuration",
            Duration::from_secs(10),
            || {
                out = agent.log();
                out.contains(want)
            },
        );
        let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("==> ")).collect();
        assert_eq!(errors.len(), 1, "{out}");
        assert!(
            errors[0].contains("agent.hcl:") || want.starts_with("cannot"),
            "{out}"
        );
    }
}

#[test]
fn an_unwritable_data_dir_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    // data_dir below a regular file cannot be created. Every port is free: a server
    // binds serf too, and Nomad's default 4648 may be taken.
    let config = dir.path().join("bad.hcl");
    let text = format!(
        "data_dir = \"{}/sub\"\nbind_addr = \"127.0.0.1\"\nserver {{\n  enabled = true\n}}\nports {{\n  http = {}\n  rpc = {}\n  serf = {}\n}}\n",
        blocker.display(),
        free_port(),
        free_port(),
        free_port()
    );
    std::fs::write(&config, text).unwrap();
    let output = std::process::Command::new(CARAVAN)
        .args(["agent", &format!("-config={}", config.display())])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("data_dir"), "{err}");
}

#[test]
fn draining_a_node_moves_its_allocations_and_eligibility_comes_back() {
    let (server, clients) = workshop_cluster(2, |_| true);
    let ids: Vec<NodeId> = clients.iter().map(Agent::node_id).collect();
    let work = tempfile::tempdir().unwrap();
    write(
        work.path(),
        "web.nomad",
        "job \"web\" {\n  update {\n    min_healthy_time = \"1s\"\n  }\n  group \"web\" {\n    task \"server\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/sleep\"\n        args = [\"1000\"]\n      }\n    }\n  }\n}\n",
    );
    let run = server.cli(&["job", "run", "web.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let first = server.allocations("web")[0].clone();
    let first_id = first["ID"].as_str().unwrap().to_string();
    let from = ids
        .iter()
        .position(|id| first["NodeID"] == id.as_str())
        .unwrap();
    server.eventually("the service to run", Duration::from_secs(10), || {
        server.allocations("web")[0]["ClientStatus"] == "running"
    });

    let drain = server.cli(
        &["node", "drain", "-enable", "-yes", &ids[from]],
        work.path(),
    );
    let out = stdout(&drain);
    assert!(drain.status.success(), "{out}{}", stderr(&drain));
    assert!(
        out.contains(&format!("Node \"{}\" drain strategy set", ids[from])),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "All allocations on node \"{}\" have stopped",
            ids[from]
        )),
        "{out}"
    );
    server.eventually(
        "the service to run on the other node",
        Duration::from_secs(10),
        || {
            server
                .allocations("web")
                .iter()
                .any(|a| a["NodeID"] == ids[1 - from].as_str() && a["ClientStatus"] == "running")
        },
    );
    assert!(
        processes_of_alloc(&first_id).is_empty(),
        "the drained allocation's task still runs"
    );
    let node = server
        .read(|api| api.node(&ids[from], Default::default()))
        .unwrap();
    assert_eq!(
        (
            node["Drain"].as_bool(),
            node["SchedulingEligibility"].as_str()
        ),
        (Some(false), Some("ineligible"))
    );

    let eligible = server.cli(&["node", "eligibility", "-enable", &ids[from]], work.path());
    assert_eq!(
        stdout(&eligible).trim(),
        format!(
            "Node \"{}\" scheduling eligibility set: eligible for scheduling",
            ids[from]
        )
    );
    let node = server
        .read(|api| api.node(&ids[from], Default::default()))
        .unwrap();
    assert_eq!(node["SchedulingEligibility"], "eligible");
    server.stop_job("web", work.path());
}

#[test]
fn a_client_killed_mid_task_reattaches_and_records_the_exit() {
    let (server, mut clients) = workshop_cluster(1, |_| true);
    let client = &mut clients[0];
    let work = tempfile::tempdir().unwrap();
    // The workshop's tasks run for minutes; 10 s is long enough to kill and restart the
    // client in the middle.
    let alloc_id = server.run_job(
        work.path(),
        "long.nomad",
        r#"job "long" {
  type = "batch"
  group "g" {
    restart {
      attempts = 0
      mode     = "fail"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo begin; sleep 10; echo end; exit 3"]
      }
    }
  }
}
"#,
        &[],
        "long",
    );
    let before = server.settled_task_processes("long", &alloc_id, Duration::from_secs(10));

    client.kill9();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        processes_of_alloc(&alloc_id),
        before,
        "the task must outlive its client"
    );
    client.spawn(&[]);

    let alloc = server.wait_for_reattached_failure(&alloc_id, &before, Duration::from_secs(30));
    let events = alloc["TaskStates"]["t"]["Events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["Type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "Started").count(),
        1,
        "{kinds:?}"
    );
    let terminated = events.iter().find(|e| e["Type"] == "Terminated").unwrap();
    assert_eq!(terminated["DisplayMessage"], "Exit Code: 3");
    let log = server.cli(&["alloc", "logs", &alloc_id], work.path());
    assert_eq!(
        stdout(&log),
        "begin\nend\n",
        "log capture went on across the restart"
    );
}
