//! Cluster benchmark: a server and a client as separate processes on loopback.
//!
//! - time from `caravan job run -detach` (against the server) to a raw_exec task's first
//!   instruction on the remote client, median of 50 (the task is
//!   `bash -c 'echo $EPOCHREALTIME > file'`, so bash's start-up is included);
//! - heartbeat traffic of 100 simulated idle clients: they register and then heartbeat on
//!   the TTLs the server hands out, for 30 s; requests per second at the server.
//!
//! Run with `cargo bench -p caravan --bench cluster`. It asserts nothing.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caravan_api_client::{Client, Config, RpcClient};
use caravan_api_types::HeartbeatRequest;
use caravan_structs::Node;

const CARAVAN: &str = env!("CARGO_BIN_EXE_caravan");
const RUNS: usize = 50;
const SIMULATED_CLIENTS: usize = 100;
const WINDOW: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(dir: &std::path::Path, name: &str, config: &str) -> Process {
    let path = dir.join(format!("{name}.hcl"));
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\nbind_addr = \"127.0.0.1\"\n{config}",
            dir.join(name).display()
        ),
    )
    .expect("config");
    let child = Command::new(CARAVAN)
        .args(["agent", &format!("-config={}", path.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start agent");
    Process(child)
}

/// Whether the agent at `api` lists a ready node.
fn a_node_is_ready(runtime: &tokio::runtime::Runtime, api: &Client) -> bool {
    runtime
        .block_on(api.nodes(""))
        .is_ok_and(|nodes| nodes.value.iter().any(|n| n.status == "ready"))
}

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
    let (http, rpc) = (free_port(), free_port());
    let _server = agent(
        dir.path(),
        "server",
        &format!(
            "server {{\n  enabled = true\n  bootstrap_expect = 1\n}}\nports {{\n  http = {http}\n  rpc = {rpc}\n}}\n"
        ),
    );
    let _client = agent(
        dir.path(),
        "client",
        &format!(
            "client {{\n  enabled = true\n  servers = [\"127.0.0.1:{rpc}\"]\n}}\nplugin \"raw_exec\" {{\n  config {{\n    enabled = true\n  }}\n}}\nports {{\n  http = {}\n}}\n",
            free_port()
        ),
    );
    let api =
        Client::new(Config::address(format!("http://127.0.0.1:{http}"))).expect("an API client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !a_node_is_ready(&runtime, &api) {
        assert!(Instant::now() < deadline, "the client never became ready");
        std::thread::sleep(Duration::from_millis(5));
    }

    let mut latencies = Vec::new();
    for run in 0..RUNS {
        let stamp = dir.path().join(format!("stamp-{run}"));
        let job = dir.path().join(format!("bench-{run}.nomad"));
        std::fs::write(
            &job,
            format!(
                "job \"bench-{run}\" {{\n  type = \"batch\"\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"raw_exec\"\n      config {{\n        command = \"/bin/bash\"\n        args = [\"-c\", \"echo $EPOCHREALTIME > {}\"]\n      }}\n    }}\n  }}\n}}\n",
                stamp.display()
            ),
        )
        .expect("job file");
        let t0 = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let status = Command::new(CARAVAN)
            .args(["job", "run", "-detach"])
            .arg(&job)
            .env("CARAVAN_ADDR", format!("http://127.0.0.1:{http}"))
            .stdout(Stdio::null())
            .status()
            .expect("job run");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let started = loop {
            if let Some(t) = std::fs::read_to_string(&stamp)
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
            {
                break t;
            }
            assert!(Instant::now() < deadline, "task {run} never ran");
            std::thread::sleep(Duration::from_micros(200));
        };
        latencies.push((started - t0) * 1000.0);
    }
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
