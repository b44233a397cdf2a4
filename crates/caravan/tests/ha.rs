//! Three servers that replicate with Raft, configured from HCL as an operator would
//! (`bootstrap_expect = 3`, `server_join { retry_join }`): they elect a leader, every
//! server holds every acknowledged job, a client's task keeps running while the leader
//! is killed, and the cluster comes back whole after all of its servers are killed at
//! once.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// Generous bounds: elections take 1–2 s (a lease, then 0.5–1 s); a loaded CI machine may need several rounds.
const ELECTION: Duration = Duration::from_secs(30);
const FAILOVER: Duration = Duration::from_secs(15);
const REPLICATION: Duration = Duration::from_secs(30);

/// A batch job `id` in a datacenter no client is in (stored, never run), with `meta`
/// as its `revision`: a new value is a new version of the job.
fn unplaceable_job(id: &str, meta: &str) -> Value {
    let mut job = true_batch_job(id, NO_CLIENTS);
    job["Job"]["Meta"] = json!({"revision": meta});
    job
}

/// Waits until the cluster has a leader that every server names: a follower that has
/// not heard from a just-elected leader yet answers "No cluster leader" (it does not
/// hold the call as Nomad's `rpc_hold_timeout` would).
fn wait_for_leader_known_by_all(cluster: &ServerCluster) -> usize {
    let leader = cluster.wait_for_leader(ELECTION);
    cluster.servers[leader].eventually("every server to name the leader", ELECTION, || {
        (0..cluster.servers.len()).all(|i| cluster.leader_named_by(i) == Some(leader))
    });
    leader
}

/// Registers `job` through server `i` and fails the test unless it is acknowledged.
fn register(cluster: &ServerCluster, i: usize, job: &Value) {
    let (status, body) = send_within_timeout(&cluster.servers[i], Method::Post, "/v1/jobs", job);
    assert_eq!(
        status,
        200,
        "registering {} through server{i}: {body}\n{}",
        job["Job"]["ID"],
        cluster.logs()
    );
}

/// Waits until server `i`'s own view (`?stale`) lists every job of `ids`.
fn wait_for_jobs_on(cluster: &ServerCluster, i: usize, ids: &[String]) {
    let server = &cluster.servers[i];
    let mut missing = ids.len();
    server.eventually(&format!("server{i} to hold every job"), REPLICATION, || {
        missing = match job_ids(server, "?stale") {
            Ok((_, listed)) => ids.iter().filter(|id| !listed.contains(id)).count(),
            Err(_) => ids.len(),
        };
        missing == 0
    });
}

/// A raw_exec service job `sleeper` whose task sleeps far longer than the test runs.
fn sleeper_job() -> String {
    job_hcl(
        "sleeper",
        "",
        "    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/sleep\"\n        args    = [\"1000\"]\n      }\n    }",
    )
}

#[test]
fn three_servers_replicate_every_job_and_a_leader_failover_keeps_jobs_and_tasks() {
    let started = Instant::now();
    let mut cluster = ServerCluster::start(3, "");
    let leader = cluster.wait_for_leader(ELECTION);
    eprintln!(
        "server{leader} leads, {:?} after the servers started",
        started.elapsed()
    );

    // 200 jobs, each through the next server: followers pass them to the leader.
    let ids: Vec<String> = (0..200).map(|n| format!("job-{n:03}")).collect();
    let writing = Instant::now();
    for (n, id) in ids.iter().enumerate() {
        register(&cluster, n % 3, &unplaceable_job(id, "0"));
    }
    eprintln!("200 jobs registered in {:?}", writing.elapsed());
    for i in 0..3 {
        wait_for_jobs_on(&cluster, i, &ids);
    }

    // A client of all three servers runs a long task.
    let client = Agent::with_config(&[], &cluster.client_hcl());
    cluster.servers[leader].wait_for_ready_nodes(1);
    let node_id = client.node_id();
    let work = tempfile::tempdir().unwrap();
    let alloc_id = cluster.servers[leader].run_job(
        work.path(),
        "sleeper.nomad",
        &sleeper_job(),
        &[],
        "sleeper",
    );
    let pids = cluster.servers[leader].settled_task_processes(
        "sleeper",
        &alloc_id,
        Duration::from_secs(30),
    );

    let killed = Instant::now();
    cluster.kill9(leader);
    let new_leader = cluster.wait_for_leader(FAILOVER);
    eprintln!(
        "failover: server{new_leader} leads {:?} after server{leader} was killed (-9)",
        killed.elapsed()
    );
    let survivor = (0..3).find(|&i| i != leader && i != new_leader).unwrap();
    let new = &cluster.servers[new_leader];

    // Nothing acknowledged is lost: the new leader and the other survivor list it all.
    let (_, listed) = job_ids(new, "").unwrap();
    for id in ids.iter().chain([&"sleeper".to_string()]) {
        assert!(listed.contains(id), "{id} is gone after the failover");
    }
    wait_for_jobs_on(&cluster, survivor, &ids);

    // The new leader schedules: a job sent through the follower is placed and runs.
    let after = batch_job_hcl(
        "after-failover",
        "    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/true\"\n      }\n    }",
    );
    let survivor_agent = &cluster.servers[survivor];
    survivor_agent.run_job(work.path(), "after.nomad", &after, &[], "after-failover");
    let done = survivor_agent.wait_for_alloc_status(
        "after-failover",
        &["complete"],
        "complete",
        Duration::from_secs(30),
    );
    assert_eq!(done["NodeID"], node_id.as_str());

    // The client followed the leader without missing a heartbeat...
    let node = new
        .get_json(&format!("/v1/node/{}", node_id.as_str()))
        .unwrap();
    assert_eq!(node["Status"], "ready", "{node}");
    let missed: Vec<&Value> = node["Events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| e["Message"] == "Node heartbeat missed")
                .collect()
        })
        .unwrap_or_default();
    assert!(missed.is_empty(), "the node was marked down: {missed:?}");
    // ...and its task was neither restarted nor started again.
    assert_eq!(processes_of_alloc(&alloc_id), pids);
    let alloc = new.allocation(&alloc_id);
    assert_eq!(alloc["ClientStatus"], "running", "{alloc}");
    let events = event_types(&alloc["TaskStates"]["t"]);
    assert_eq!(
        events.iter().filter(|e| *e == "Started").count(),
        1,
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e == "Restarting"), "{events:?}");
    drop(client);
    eprintln!("test took {:?}", started.elapsed());
}

#[test]
fn a_cluster_killed_at_once_comes_back_with_its_jobs_versions_and_index() {
    let started = Instant::now();
    let mut cluster = ServerCluster::start(3, "");
    wait_for_leader_known_by_all(&cluster);
    let ids: Vec<String> = (0..30).map(|n| format!("job-{n:02}")).collect();
    for (n, id) in ids.iter().enumerate() {
        register(&cluster, n % 3, &unplaceable_job(id, "0"));
    }
    // One job registered three times with a change each time: versions 0, 1 and 2.
    for revision in 0..3 {
        register(
            &cluster,
            revision,
            &unplaceable_job("versioned", &revision.to_string()),
        );
    }
    let index_before = (0..3)
        .map(|i| job_ids(&cluster.servers[i], "").unwrap().0)
        .max()
        .unwrap();

    for i in 0..3 {
        cluster.kill9(i);
    }
    let restarting = Instant::now();
    for i in 0..3 {
        cluster.restart(i);
    }
    let leader = cluster.wait_for_leader(ELECTION);
    eprintln!(
        "server{leader} leads {:?} after all three were started again",
        restarting.elapsed()
    );

    let all: Vec<String> = ids.iter().cloned().chain(["versioned".into()]).collect();
    for i in 0..3 {
        // Through any server, a fresh read is the leader's: never behind what was
        // acknowledged before the crash.
        let (index, listed) = job_ids(&cluster.servers[i], "").unwrap();
        assert!(
            index >= index_before,
            "X-Nomad-Index went back from {index_before} to {index} through server{i}"
        );
        for id in &all {
            assert!(listed.contains(id), "{id} is gone after the restart");
        }
        wait_for_jobs_on(&cluster, i, &all);
        let (versions_index, versions) =
            get_indexed(&cluster.servers[i], "/v1/job/versioned/versions?stale").unwrap();
        let numbers: Vec<u64> = versions["Versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["Version"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, [2, 1, 0], "server{i}");
        let revisions: Vec<&Value> = versions["Versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["Meta"]["revision"])
            .collect();
        assert_eq!(revisions, [&json!("2"), &json!("1"), &json!("0")]);
        assert!(versions_index > 0);
    }
    eprintln!("test took {:?}", started.elapsed());
}

/// `caravan server join`, as Nomad's tutorials form a cluster: two servers started with
/// `bootstrap_expect = 2` and nothing to join wait; one is told the other's serf
/// address, and both count each other, elect a leader and list each other.
#[test]
fn servers_waiting_for_bootstrap_expect_form_a_cluster_with_server_join() {
    let config = |name: &str| {
        format!(
            "name = \"{name}\"\nserver {{\n  enabled          = true\n  bootstrap_expect = 2\n}}\n"
        )
    };
    let first = Agent::with_config(&[], &config("first"));
    let second = Agent::with_config(&[], &config("second"));
    for agent in [&first, &second] {
        agent.eventually("the HTTP API", ELECTION, || {
            agent.get_json("/v1/agent/self").is_ok()
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let joined = first.cli(
        &["server", "join", &format!("127.0.0.1:{}", second.serf_port)],
        dir.path(),
    );
    assert!(joined.status.success(), "{}", stderr(&joined));
    assert_eq!(stdout(&joined).trim(), "Joined 1 servers successfully");

    second.eventually("a leader both servers agree on", ELECTION, || {
        let leader = |agent: &Agent| {
            agent
                .get_json("/v1/status/leader")
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .filter(|l| !l.is_empty())
        };
        leader(&first).is_some() && leader(&first) == leader(&second)
    });
    let members = second.cli(&["server", "members"], dir.path());
    let text = stdout(&members);
    for name in ["first.global", "second.global"] {
        let line = text
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("{name} is not a member:\n{text}"));
        assert!(line.contains("alive"), "{line}");
    }
    assert_eq!(
        text.lines().filter(|line| line.contains(" true ")).count(),
        1,
        "one leader:\n{text}"
    );
    let peers = first.cli(&["operator", "raft", "list-peers"], dir.path());
    let text = stdout(&peers);
    assert_eq!(
        text.lines().filter(|line| line.contains("leader")).count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|line| line.contains("follower"))
            .count(),
        1,
        "{text}"
    );
}
