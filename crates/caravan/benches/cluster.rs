//! Cluster benchmark: a server and a client as separate processes on loopback.
//!
//! - time from `caravan job run -detach` (against the server) to a raw_exec task's first
//!   instruction on the remote client, median of 50 (the task is
//!   `bash -c 'echo $EPOCHREALTIME > file'`, so bash's start-up is included);
//! - heartbeat traffic of 100 simulated idle clients: they register and then heartbeat on
//!   the TTLs the server hands out, for 30 s; requests per second at the server.
//!
//! Run with `cargo bench -p caravan --bench cluster`. It asserts nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use caravan_api_client::RpcClient;
use caravan_api_types::HeartbeatRequest;
use caravan_structs::Node;
use caravan_testkit::harness::{Cluster, SERVER_CONFIG, client_config, job_run_to_task_start_ms};

const RUNS: usize = 50;
const SIMULATED_CLIENTS: usize = 100;
const WINDOW: Duration = Duration::from_secs(30);

/// One simulated idle client: registers, then heartbeats at half the TTL it is handed,
/// as real clients do, until `stop_at`.
async fn idle_client(i: usize, rpc: RpcClient, requests: Arc<AtomicU64>, stop_at: Instant) {
    let id = format!("00000000-0000-4000-8000-{i:012}");
    let secret = format!("10000000-0000-4000-8000-{i:012}");
    let node: Node = match serde_json::from_value(serde_json::json!({
        "ID": id, "SecretID": secret, "Name": format!("sim-{i}"), "Datacenter": "dc1",
        "NodeResources": {"Cpu": {"CpuShares": 1000}, "Memory": {"MemoryMB": 1024}},
    })) {
        Ok(node) => node,
        Err(_) => return,
    };
    let ttl_of = |nanos: i64| Duration::from_nanos(u64::try_from(nanos).unwrap_or(10_000_000_000));
    let Ok(answer) = rpc.register_node(&node).await else {
        return;
    };
    requests.fetch_add(1, Ordering::Relaxed);
    let mut ttl = ttl_of(answer.heartbeat_ttl);
    let beat = HeartbeatRequest {
        node_id: id.into(),
        secret_id: secret,
    };
    loop {
        let next = Instant::now() + ttl / 2;
        if next >= stop_at {
            return;
        }
        tokio::time::sleep_until(next.into()).await;
        let Ok(answer) = rpc.heartbeat(&beat).await else {
            return;
        };
        requests.fetch_add(1, Ordering::Relaxed);
        ttl = ttl_of(answer.heartbeat_ttl);
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let raw_exec = "plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n";
    let cluster = Cluster::start(SERVER_CONFIG, 1, |server, _| {
        client_config(server.rpc_port, "", raw_exec)
    });
    let server = &cluster.server;
    let rpc = server.rpc_port;

    let mut latencies: Vec<f64> = (0..RUNS)
        .map(|run| job_run_to_task_start_ms(server, dir.path(), &format!("bench-{run}"), &[]))
        .collect();
    latencies.sort_by(f64::total_cmp);

    // 100 idle clients: register, then heartbeat at half the TTL, as real clients do.
    let requests = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + WINDOW;
    let http = reqwest::Client::new();
    runtime.block_on(async {
        let clients: Vec<_> = (0..SIMULATED_CLIENTS)
            .filter_map(|i| {
                let rpc = RpcClient::new(&format!("127.0.0.1:{rpc}"), http.clone()).ok()?;
                Some(tokio::spawn(idle_client(i, rpc, requests.clone(), stop_at)))
            })
            .collect();
        for client in clients {
            let _ = client.await;
        }
    });
    let total = requests.load(Ordering::Relaxed);

    println!("caravan cluster benchmark (1 server + 1 client, separate processes, loopback)");
    println!(
        "  job run -detach to task start on the remote client: median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms ({RUNS} runs)",
        latencies[RUNS / 2],
        latencies[(RUNS - 1) * 9 / 10],
        latencies[0],
        latencies[RUNS - 1]
    );
    println!(
        "  {SIMULATED_CLIENTS} simulated idle clients over {}s: {total} register+heartbeat requests = {:.1} requests/s at the server",
        WINDOW.as_secs(),
        total as f64 / WINDOW.as_secs_f64()
    );
}
