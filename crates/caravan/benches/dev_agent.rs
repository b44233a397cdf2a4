//! Dev-agent benchmark: start-up to a ready node, idle RSS, and the time from
//! `caravan job run -detach` to a raw_exec task's first instruction (median of 50). The
//! task is `bash -c 'echo $EPOCHREALTIME > file'`, so the figure includes bash's own
//! start-up (about a millisecond): it is an upper bound.
//!
//! Run with `cargo bench -p caravan --bench dev_agent`. It measures the release build
//! that cargo bench makes; it asserts nothing.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use caravan_testkit::harness::{Agent, job_run_to_task_start_ms, memory_kb};

const RUNS: usize = 50;

/// Whether the agent lists a ready node.
fn a_node_is_ready(agent: &Agent) -> bool {
    agent
        .run(|api| api.nodes(""))
        .is_ok_and(|nodes| nodes.value.iter().any(|n| n.status == "ready"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let agent = Agent::with_config(&["-dev"], "");
    loop {
        if a_node_is_ready(&agent) {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            panic!("agent did not become ready");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let ready = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let pid = agent.pid().expect("the agent runs");
    let idle_rss = memory_kb(pid, "VmRSS");

    let latencies: Vec<f64> = (0..RUNS)
        .map(|run| {
            job_run_to_task_start_ms(&agent, dir.path(), &format!("bench-{run}"), &["-hcl1"])
        })
        .collect();
    let busy_rss = memory_kb(pid, "VmRSS");
    let mut latencies = latencies;
    latencies.sort_by(f64::total_cmp);
    drop(agent);

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
