//! Servers under strain and given bad input: logs compacted into snapshots and a new
//! server caught up from one, a five-server cluster losing two, and starts that must
//! fail at once with one line that names the problem, leaving the data as it was.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Generous bounds: elections take 1–2 s (a lease, then 0.5–1 s); a loaded CI machine may need several rounds.
const ELECTION: Duration = Duration::from_secs(30);
const REPLICATION: Duration = Duration::from_secs(30);
/// How long a start that must fail may take before it counts as hanging.
const FAILING_START: Duration = Duration::from_secs(30);

/// A snapshot every 32 entries, 8 entries kept after it: a few dozen jobs compact the
/// log, and a server that joins later cannot be sent the log from its start.
const COMPACTING: &str = "  raft_snapshot_threshold = 32\n  raft_trailing_logs      = 8\n";

/// A batch job `id` in a datacenter no client is in: stored, never run.
fn unplaceable_job(id: &str) -> Value {
    true_batch_job(id, NO_CLIENTS)
}

/// Registers jobs `ids`, each through the next server of `through`, and fails the test
/// unless each is acknowledged.
fn register_all(cluster: &ServerCluster, through: &[usize], ids: &[String]) {
    for (n, id) in ids.iter().enumerate() {
        let i = through[n % through.len()];
        let (status, body) = send_within_timeout(
            &cluster.servers[i],
            Method::Post,
            "/v1/jobs",
            &unplaceable_job(id),
        );
        assert_eq!(
            status,
            200,
            "registering {id} through server{i}: {body}\n{}",
            cluster.logs()
        );
    }
}

/// Waits until server `i`'s own view (`?stale`) lists exactly the jobs `ids`, in any
/// order, and returns its list.
fn wait_for_exactly(cluster: &ServerCluster, i: usize, ids: &[String]) -> Vec<String> {
    let mut want = ids.to_vec();
    want.sort();
    let mut listed = Vec::new();
    cluster.servers[i].eventually(
        &format!("server{i} to hold exactly the jobs registered"),
        REPLICATION,
        || {
            listed = job_ids(&cluster.servers[i], "?stale")
                .map(|(_, ids)| ids)
                .unwrap_or_default();
            listed.sort();
            listed == want
        },
    );
    listed
}

fn raft_dir(agent: &Agent) -> PathBuf {
    agent.data_dir().join("server/raft")
}

/// The `.snap` files in a server's snapshot directory.
fn snapshot_files(agent: &Agent) -> Vec<String> {
    std::fs::read_dir(raft_dir(agent).join("snapshots"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".snap"))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether server `i` is a voter in server `asked`'s own Raft configuration (`?stale`).
fn is_voter(cluster: &ServerCluster, asked: usize, i: usize) -> bool {
    let address = cluster.rpc_addr(i);
    get_indexed(
        &cluster.servers[asked],
        "/v1/operator/raft/configuration?stale",
    )
    .is_ok_and(|(_, configuration)| {
        configuration["Servers"].as_array().is_some_and(|servers| {
            servers
                .iter()
                .any(|s| s["Address"] == address.as_str() && s["Voter"] == true)
        })
    })
}

/// Waits until every running server's own configuration has server `i` as a voter:
/// from then on, any of them that is left counts it in its quorums.
fn wait_for_voter(cluster: &ServerCluster, i: usize) {
    cluster.servers[i].eventually(
        &format!("server{i} to be a voter for every server"),
        ELECTION,
        || {
            cluster
                .running()
                .iter()
                .all(|&asked| is_voter(cluster, asked, i))
        },
    );
}

#[test]
fn compacted_logs_catch_a_new_server_up_and_five_servers_survive_losing_two() {
    let started = Instant::now();
    let mut cluster = ServerCluster::start(3, COMPACTING);
    let leader = cluster.wait_for_leader(ELECTION);
    let mut ids: Vec<String> = (0..60).map(|n| format!("job-{n:02}")).collect();
    register_all(&cluster, &[0, 1, 2], &ids);
    for i in 0..3 {
        wait_for_exactly(&cluster, i, &ids);
        cluster.servers[i].eventually(
            &format!("server{i} to take a snapshot"),
            REPLICATION,
            || !snapshot_files(&cluster.servers[i]).is_empty(),
        );
    }

    // A fourth server finds the cluster through retry_join and is added to it.
    let joining = Instant::now();
    let fourth = cluster.add_server(COMPACTING);
    wait_for_voter(&cluster, fourth);
    eprintln!(
        "the fourth server is a voter {:?} after it started",
        joining.elapsed()
    );
    wait_for_exactly(&cluster, fourth, &ids);
    // The leader's log no longer starts at the beginning: the fourth server was sent a
    // snapshot (nothing since was enough to make it take one of its own).
    assert!(
        !snapshot_files(&cluster.servers[fourth]).is_empty(),
        "the fourth server caught up without a snapshot; its log:\n{}",
        cluster.servers[fourth].log()
    );

    // A fifth, then two servers lost, the leader among them: three of five are a quorum.
    let fifth = cluster.add_server(COMPACTING);
    wait_for_voter(&cluster, fifth);
    let other = (0..3).find(|&i| i != leader).unwrap();
    let killed = Instant::now();
    cluster.kill9(leader);
    cluster.kill9(other);
    let new_leader = cluster.wait_for_leader(ELECTION);
    eprintln!(
        "failover: server{new_leader} leads {:?} after server{leader} (leader) and server{other} were killed",
        killed.elapsed()
    );
    let survivors = cluster.running();
    let more: Vec<String> = (0..15).map(|n| format!("after-{n:02}")).collect();
    register_all(&cluster, &survivors, &more);
    ids.extend(more);
    for &i in &survivors {
        wait_for_exactly(&cluster, i, &ids);
    }
    eprintln!("test took {:?}", started.elapsed());
}

/// Raft's messages are not API bodies: a state of a few large jobs makes snapshot
/// chunks (3 MiB) larger than the 2 MiB an API call may send, and a server that joins
/// must still be sent them.
#[test]
fn a_snapshot_larger_than_an_api_body_reaches_a_new_server() {
    let mut cluster = ServerCluster::start(
        3,
        "  raft_snapshot_threshold = 4\n  raft_trailing_logs = 1\n",
    );
    let leader = cluster.wait_for_leader(ELECTION);
    let mut ids = Vec::new();
    for n in 0..6 {
        let id = format!("large-{n}");
        let mut job = unplaceable_job(&id);
        // 1.5 MiB of metadata: one call stays under the API's limit.
        job["Job"]["Meta"] = serde_json::json!({"blob": "x".repeat(1536 * 1024)});
        let (status, body) =
            send_within_timeout(&cluster.servers[leader], Method::Post, "/v1/jobs", &job);
        assert_eq!(status, 200, "registering {id}: {body}");
        ids.push(id);
    }
    cluster.servers[leader].eventually("the leader to take a snapshot", REPLICATION, || {
        !snapshot_files(&cluster.servers[leader]).is_empty()
    });
    let fourth = cluster.add_server("  raft_snapshot_threshold = 4\n  raft_trailing_logs = 1\n");
    wait_for_voter(&cluster, fourth);
    wait_for_exactly(&cluster, fourth, &ids);
}

/// Something done to a raft.db file.
type Damage = fn(&Path);

/// redb's page size: a file it wrote ends on a page boundary.
const PAGE: u64 = 4096;

/// Cuts the file at `length`.
fn truncate(db: &Path, length: u64) {
    let file = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    file.set_len(length).unwrap();
}

/// The length of a file.
fn length(db: &Path) -> u64 {
    std::fs::metadata(db).unwrap().len()
}

/// Every regular file under `dir` with its contents.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    files.sort();
    files
}

/// `files_under`, less the first page of raft.db: redb's header, which redb's crash
/// recovery may rewrite (the layout of a file cut at a page boundary) before it finds
/// the pages it needs are gone.
fn files_but_redb_header(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|(path, mut bytes)| {
            if path.ends_with("raft.db") {
                bytes.drain(..bytes.len().min(PAGE as usize));
            }
            (path, bytes)
        })
        .collect()
}

/// Asserts that a start ended with exit code 1 and exactly one `==>` line on standard
/// error, which holds every one of `names`; returns that line.
fn assert_one_line_failure(exit: &AgentExit, names: &[&str]) -> String {
    let shown = format!("{exit:?}");
    assert_eq!(exit.code, Some(1), "{shown}");
    let lines: Vec<&str> = exit
        .stderr
        .lines()
        .filter(|l| l.starts_with("==> "))
        .collect();
    assert_eq!(lines.len(), 1, "{shown}");
    for name in names {
        assert!(lines[0].contains(name), "{name:?} is not in {:?}", lines[0]);
    }
    lines[0].to_string()
}

#[test]
fn a_damaged_raft_store_stops_the_server_and_is_left_as_it_was() {
    let mut cluster = ServerCluster::start(3, "");
    cluster.wait_for_leader(ELECTION);
    let ids: Vec<String> = (0..20).map(|n| format!("job-{n:02}")).collect();
    register_all(&cluster, &[0, 1, 2], &ids);
    // Every server holds the jobs before any is killed: a write is committed once two of
    // three have it, and a server still behind when the other two are gone has no
    // leader to catch up from.
    for i in 0..3 {
        wait_for_exactly(&cluster, i, &ids);
    }
    for i in 0..3 {
        cluster.kill9(i);
    }

    // Each damage is done to a copy of server0's raft.db as the kill left it.
    let db = raft_dir(&cluster.servers[0]).join("raft.db");
    let intact = std::fs::read(&db).unwrap();
    let damages: [(&str, Damage); 4] = [
        ("overwritten with garbage", |db| {
            let garbage: Vec<u8> = (0..length(db)).map(|n| (n * 7 + 13) as u8).collect();
            std::fs::write(db, garbage).unwrap();
        }),
        ("cut in half at a page boundary", |db| {
            truncate(db, length(db) / 2 / PAGE * PAGE)
        }),
        ("cut in half inside a page", |db| {
            truncate(db, length(db) / 2 / PAGE * PAGE + 100)
        }),
        ("emptied", |db| truncate(db, 0)),
    ];
    let server = &cluster.servers[0];
    for (damage, apply) in damages {
        std::fs::write(&db, &intact).unwrap();
        apply(&db);
        let before = files_but_redb_header(&server.data_dir());
        let exit = server.run_to_exit(&[], FAILING_START);
        let line = assert_one_line_failure(
            &exit,
            &["the raft store", &db.display().to_string(), "is damaged"],
        );
        eprintln!("raft.db {damage}: {line}");
        // Nothing was replaced, emptied or added: the operator still has every file
        // the server left, and all of raft.db's pages but redb's header.
        assert_eq!(
            files_but_redb_header(&server.data_dir()),
            before,
            "server0's data changed after its raft.db was {damage}"
        );
    }
}

#[test]
fn a_server_that_finds_too_few_servers_gives_up_after_retry_max() {
    let server = Agent::unstarted();
    let nobody = [free_port(), free_port()];
    server.set_config(&format!(
        r#"name      = "alone"
bind_addr = "127.0.0.1"

server {{
  enabled          = true
  bootstrap_expect = 3

  server_join {{
    retry_join     = ["127.0.0.1:{}", "127.0.0.1:{}", "127.0.0.1:{}"]
    retry_max      = 2
    retry_interval = "200ms"
  }}
}}
"#,
        server.serf_port, nobody[0], nobody[1]
    ));
    let exit = server.run_to_exit(&[], FAILING_START);
    let line = assert_one_line_failure(
        &exit,
        &[
            "server_join: gave up after 2 attempts",
            "found 1 of the 3 servers bootstrap_expect asks for",
        ],
    );
    eprintln!("{line}");
    // It never formed a cluster of its own.
    assert!(
        !exit.stdout.contains("cluster leadership acquired"),
        "{}",
        exit.stdout
    );
}

#[test]
fn a_server_of_another_region_is_refused_by_the_cluster_it_joins() {
    let cluster = ServerCluster::start(1, "");
    let leader = cluster.wait_for_leader(ELECTION);
    let ids = vec!["web".to_string()];
    register_all(&cluster, &[leader], &ids);
    let configuration_before =
        get_indexed(&cluster.servers[leader], "/v1/operator/raft/configuration")
            .unwrap()
            .1;

    let eu = Agent::unstarted();
    let config = server_hcl(
        "eu0",
        1,
        &[cluster.servers[leader].serf_port, eu.serf_port],
        "",
    );
    eu.set_config(&format!("region = \"eu\"\n{config}"));
    let exit = eu.run_to_exit(&[], FAILING_START);
    let line = assert_one_line_failure(
        &exit,
        &[
            &format!("127.0.0.1:{}", cluster.servers[leader].serf_port),
            "is a server of region \"global\", this server is of region \"eu\"",
        ],
    );
    eprintln!("{line}");
    assert!(
        !exit.stdout.contains("cluster leadership acquired"),
        "{}",
        exit.stdout
    );
    // The cluster is as it was.
    let configuration_after =
        get_indexed(&cluster.servers[leader], "/v1/operator/raft/configuration")
            .unwrap()
            .1;
    assert_eq!(configuration_after, configuration_before);
    wait_for_exactly(&cluster, leader, &ids);
}
