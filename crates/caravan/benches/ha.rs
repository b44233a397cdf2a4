//! Replicated servers, as processes on loopback, through the HTTP API:
//!
//! - job registrations: one at a time (p50/p99 latency) and from 8 concurrent writers
//!   (registrations per second), against a `-dev` agent (a one-server Raft) and against
//!   the leader of three servers (each write on a quorum's disk before it is answered);
//! - failover: `kill -9` of the leader, then the time until a new leader answers a
//!   write through a surviving server, five times (the killed server is restarted and
//!   catches up between rounds).
//!
//! The in-memory baseline (no log, no HTTP) and snapshot figures are in
//! `crates/raft/benches/replication.rs`. Run with `cargo bench -p caravan --bench ha`.
//! It asserts nothing.

use std::time::{Duration, Instant};

use caravan_api_client::Client;
use caravan_api_types::JobRegisterRequest;
use caravan_structs::JobType;
use caravan_testkit::harness::{DevAgent, ServerCluster, block_on, client_of};

const SEQUENTIAL: usize = 300;
const WRITERS: usize = 8;
const EACH: usize = 60;
const FAILOVERS: usize = 5;

fn request(id: &str) -> JobRegisterRequest {
    let job = caravan_testkit::job(id)
        .kind(JobType::Batch)
        .command("/bin/true")
        .resources(10, 16)
        // No client runs it: what is measured is the servers' work, the same with
        // and without a client beside the server.
        .with(|job| job.datacenters = vec!["bench-no-clients".into()])
        .build();
    JobRegisterRequest {
        job: Some(job),
        ..JobRegisterRequest::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn measure(label: &str, address: &str) {
    let api = client_of(address);
    let prefix: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for n in 0..SEQUENTIAL {
        let body = request(&format!("{prefix}-seq-{n}"));
        let start = Instant::now();
        block_on(api.register_job(&body)).expect("registered");
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let start = Instant::now();
    block_on(async {
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let api: Client = api.clone();
            let prefix = prefix.clone();
            writers.push(tokio::spawn(async move {
                for n in 0..EACH {
                    let body = request(&format!("{prefix}-w{w}-{n}"));
                    api.register_job(&body).await.expect("registered");
                }
            }));
        }
        for writer in writers {
            writer.await.expect("writer");
        }
    });
    let elapsed = start.elapsed();
    println!(
        "{label:<16} p50 {:>7.2} ms  p99 {:>7.2} ms  {WRITERS} writers {:>6.0} registrations/s",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        (WRITERS * EACH) as f64 / elapsed.as_secs_f64(),
    );
}

/// `kill -9` of the leader until a write through another server is answered.
fn failover(cluster: &mut ServerCluster, round: usize) -> Duration {
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    // A healthy cluster loses its leader: the server restarted in the last round has
    // caught up and follows it (a server still catching up stands for election with a
    // log too old to win, and only delays the others).
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && !cluster
            .running()
            .into_iter()
            .all(|i| cluster.leader_named_by(i) == Some(leader))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    let survivor = (leader + 1) % cluster.servers.len();
    let api = client_of(&cluster.servers[survivor].addr());
    cluster.kill9(leader);
    let old = cluster.rpc_addr(leader);
    let start = Instant::now();
    let mut attempt = 0;
    let mut elected = None;
    loop {
        attempt += 1;
        if elected.is_none()
            && block_on(api.status_leader()).is_ok_and(|l| !l.is_empty() && l != old)
        {
            elected = Some(start.elapsed());
        }
        let body = request(&format!("failover-{round}-{attempt}"));
        if block_on(api.register_job(&body)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    eprintln!(
        "  round {round}: a new leader known after {elected:?}, a write answered after {elapsed:?}"
    );
    cluster.restart(leader);
    elapsed
}

fn main() {
    {
        let dev = DevAgent::start();
        measure("dev (1 server)", &dev.addr());
    }
    let mut cluster = ServerCluster::start(3, "");
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    measure("3 servers", &cluster.servers[leader].addr());
    let mut times: Vec<Duration> = (0..FAILOVERS)
        .map(|round| failover(&mut cluster, round))
        .collect();
    times.sort();
    let shown: Vec<String> = times
        .iter()
        .map(|t| format!("{:.2}", t.as_secs_f64()))
        .collect();
    println!(
        "failover after kill -9 of the leader (s): {} (median {:.2})",
        shown.join(", "),
        times[times.len() / 2].as_secs_f64()
    );
}
