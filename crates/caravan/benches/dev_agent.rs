//! Dev-agent benchmark: start-up to a ready node, idle RSS, and the time from
//! `caravan job run -detach` to a raw_exec task's first instruction (median of 50). The
//! task is `bash -c 'echo $EPOCHREALTIME > file'`, so the figure includes bash's own
//! start-up (about a millisecond): it is an upper bound.
//!
//! Run with `cargo bench -p caravan --bench dev_agent`. It measures the release build
//! that cargo bench makes; it asserts nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caravan_api_client::{Client, Config};

const CARAVAN: &str = env!("CARGO_BIN_EXE_caravan");
const RUNS: usize = 50;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(4646)
}

/// Whether the agent at `api` lists a ready node.
fn a_node_is_ready(runtime: &tokio::runtime::Runtime, api: &Client) -> bool {
    runtime
        .block_on(api.nodes(""))
        .is_ok_and(|nodes| nodes.value.iter().any(|n| n.status == "ready"))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config = dir.path().join("ports.hcl");
    std::fs::write(
        &config,
        format!("ports {{\n  http = {port}\n  rpc  = {}\n}}\n", free_port()),
    )
    .expect("config");
    let api =
        Client::new(Config::address(format!("http://127.0.0.1:{port}"))).expect("an API client");
    let started = Instant::now();
    let mut agent = Command::new(CARAVAN)
        .args(["agent", "-dev", &format!("-config={}", config.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start agent");
    loop {
        if a_node_is_ready(&runtime, &api) {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            panic!("agent did not become ready");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let ready = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = rss_kib(agent.id());

    let mut latencies = Vec::new();
    for run in 0..RUNS {
        let stamp = dir.path().join(format!("stamp-{run}"));
        let job = dir.path().join(format!("bench-{run}.nomad"));
        std::fs::write(
            &job,
            format!(
                "job \"bench-{run}\" {{\n  datacenters = [\"dc1\"]\n  type = \"batch\"\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"raw_exec\"\n      config {{\n        command = \"/bin/bash\"\n        args = [\"-c\", \"echo $EPOCHREALTIME > {}\"]\n      }}\n    }}\n  }}\n}}\n",
                stamp.display()
            ),
        )
        .expect("job file");
        let t0 = SystemTime::now();
        let status = Command::new(CARAVAN)
            .args(["job", "run", "-detach", "-hcl1"])
            .arg(&job)
            .env("CARAVAN_ADDR", format!("http://127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .status()
            .expect("job run");
        assert!(status.success(), "job run failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        // bash's $EPOCHREALTIME, read as its first act: microseconds, on the same clock.
        let started_at = loop {
            if let Some(seconds) = std::fs::read_to_string(&stamp)
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
            {
                break seconds;
            }
            assert!(Instant::now() < deadline, "task {run} never ran");
            std::thread::sleep(Duration::from_micros(200));
        };
        let t0 = t0
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        latencies.push((started_at - t0) * 1000.0);
    }
    let busy_rss = rss_kib(agent.id());
    latencies.sort_by(f64::total_cmp);

    let _ = Command::new("kill")
        .args(["-INT", &agent.id().to_string()])
        .status();
    let _ = agent.wait();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    println!("caravan dev agent benchmark (unix time {now})");
    println!(
        "  agent -dev to ready node:         {:.1} ms",
        ready.as_secs_f64() * 1000.0
    );
    println!(
        "  idle RSS after start:             {:.1} MiB",
        idle_rss as f64 / 1024.0
    );
    println!(
        "  RSS after {RUNS} jobs:               {:.1} MiB",
        busy_rss as f64 / 1024.0
    );
    println!(
        "  job run -detach to task start:    median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms ({RUNS} runs)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        latencies[0],
        latencies[latencies.len() - 1]
    );
}
