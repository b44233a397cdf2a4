//! What replication costs, in one process (no HTTP):
//!
//! - job registrations through the server, one at a time (p50/p99 latency) and from 8
//!   concurrent writers (registrations per second), with the in-memory replicator and
//!   with a one-server Raft whose log is fsynced on this machine's disk;
//! - a snapshot of a state of 100,000 allocations: its size, the time to encode it and
//!   write it with fsync, and the time to read it back into a store.
//!
//! The three-server figures (through HTTP, and failover after `kill -9`) are in
//! `crates/caravan/benches/ha.rs`. Run with `cargo bench -p caravan-raft --bench
//! replication`. It asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use caravan_raft::state_machine::{decode_state, encode_state};
use caravan_raft::{RaftNode, RaftSettings, ServerNode};
use caravan_server::{RandomIds, Replicator, Server, ServerConfig, SystemClock};
use caravan_state::{Command, StateStore};
use caravan_structs::{JobType, Node};
use caravan_testkit as testkit;

const SEQUENTIAL: usize = 1000;
const CONCURRENT_WRITERS: usize = 8;
const CONCURRENT_EACH: usize = 250;
const ALLOCATIONS: usize = 100_000;

fn job(name: &str) -> caravan_structs::Job {
    testkit::job(name)
        .kind(JobType::Batch)
        .command("/bin/true")
        .resources(10, 16)
        .build()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

async fn measure(label: &str, server: Arc<Server>) {
    let mut latencies = Vec::with_capacity(SEQUENTIAL);
    for n in 0..SEQUENTIAL {
        let start = Instant::now();
        server
            .register_job(job(&format!("{label}-seq-{n}")))
            .await
            .expect("registered");
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let start = Instant::now();
    let mut writers = Vec::new();
    for w in 0..CONCURRENT_WRITERS {
        let server = server.clone();
        let label = label.to_string();
        writers.push(tokio::spawn(async move {
            for n in 0..CONCURRENT_EACH {
                server
                    .register_job(job(&format!("{label}-w{w}-{n}")))
                    .await
                    .expect("registered");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let elapsed = start.elapsed();
    let total = CONCURRENT_WRITERS * CONCURRENT_EACH;
    println!(
        "{label:<22} p50 {:>8.3} ms  p99 {:>8.3} ms  sequential {:>7.0}/s  {CONCURRENT_WRITERS} writers {:>7.0}/s",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        SEQUENTIAL as f64 / latencies.iter().sum::<Duration>().as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
    );
}

async fn one_server_raft(directory: &std::path::Path) -> (Arc<RaftNode>, Arc<Server>) {
    let me = ServerNode {
        name: "bench.global".into(),
        rpc_addr: "127.0.0.1:1".into(),
        http_addr: "127.0.0.1:2".into(),
        serf_addr: "127.0.0.1:3".into(),
        region: "global".into(),
        datacenter: "dc1".into(),
        ..ServerNode::default()
    };
    let store = Arc::new(StateStore::new());
    let raft = RaftNode::start(
        RaftSettings::new(directory.to_path_buf(), me),
        store.clone(),
    )
    .await
    .expect("raft starts");
    raft.bootstrap().await.expect("bootstraps");
    let mut leadership = raft.leadership();
    let _ = leadership.wait_for(|term| *term != 0).await;
    let server = Server::start_replicated(
        ServerConfig::default(),
        store,
        raft.clone(),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
    );
    (raft, server)
}

/// A state of `ALLOCATIONS` running allocations: 100 nodes, 1,000 jobs of 100 each.
fn big_state() -> StateStore {
    let store = StateStore::new();
    for n in 0..100 {
        let node: Node = testkit::node(&format!("node-{n}")).build();
        store.apply(Command::NodeRegister {
            node,
            now: 1,
            evals: Vec::new(),
        });
    }
    let per_job = 100;
    for j in 0..ALLOCATIONS / per_job {
        let job = job(&format!("big-{j}"));
        store.apply(Command::JobRegister {
            job: job.clone(),
            eval: None,
            now: 1,
            enforce_index: None,
        });
        let allocs = (0..per_job)
            .map(|a| {
                testkit::alloc(
                    &format!("{j:08}-0000-4000-8000-{a:012}"),
                    &job,
                    &format!("node-{}", a % 100),
                )
                .build()
            })
            .collect();
        store.apply(Command::PlanApply {
            job: None,
            stopped: Vec::new(),
            allocs,
            evals: Vec::new(),
            now: 1,
            deployment: None,
            deployment_updates: Vec::new(),
        });
    }
    store
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let memory = Server::start(ServerConfig::default());
        measure("in-memory", memory).await;
        let directory = tempfile::tempdir().expect("temp dir");
        let (raft, server) = one_server_raft(directory.path()).await;
        measure("one-server-raft", server).await;
        raft.shutdown().await;
    });

    let store = big_state();
    let state = store.snapshot();
    let start = Instant::now();
    let bytes = encode_state(&state).expect("encodes");
    let encode = start.elapsed();
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("state.snap");
    let start = Instant::now();
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&path).expect("file");
        file.write_all(&bytes).expect("write");
        file.sync_all().expect("fsync");
    }
    let write = start.elapsed();
    let start = Instant::now();
    let read = std::fs::read(&path).expect("read");
    let restored = decode_state(&read).expect("decodes");
    let fresh = StateStore::new();
    fresh.restore(restored);
    let load = start.elapsed();
    assert!(
        *fresh.snapshot() == *state,
        "the snapshot reads back as it was"
    );
    println!(
        "snapshot of {ALLOCATIONS} allocations: {:.1} MiB, encode {:.0} ms, write+fsync {:.0} ms, read+decode {:.0} ms",
        bytes.len() as f64 / (1024.0 * 1024.0),
        encode.as_secs_f64() * 1000.0,
        write.as_secs_f64() * 1000.0,
        load.as_secs_f64() * 1000.0,
    );
}
