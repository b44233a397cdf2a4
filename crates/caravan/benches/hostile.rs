//! Hostile-input benchmark (issue 12): a dev agent's peak RSS with a job of count
//! 1,000,000 (eight copies fit the node, the rest are coalesced), the time from
//! registering a tiny batch job right after it to the tiny job's allocation running
//! (median of 5), and `GET /v1/status/leader` on a fresh connection while 2,000 idle
//! connections and 500 blocking queries are open (median and max of 20).
//!
//! Run with `cargo bench -p caravan --bench hostile` (the release build), or against the
//! debug build with `cargo bench --profile dev -p caravan --bench hostile`. It asserts
//! nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use caravan_api_client::{Method, paths};
use caravan_testkit::harness::{Agent, sleeping_job};
use serde_json::{Value, json};

fn register(agent: &Agent, body: &Value) {
    let (status, text) = agent.send_json(Method::Put, paths::JOBS, body);
    assert_eq!(status, 200, "{text}");
}

/// Milliseconds from registering tiny batch job `id` to its allocation running or done.
fn tiny_job_ms(agent: &Agent, id: &str) -> f64 {
    let started = Instant::now();
    let mut tiny = sleeping_job(id, "batch", 1, 10);
    tiny["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["command"] = json!("/bin/true");
    register(agent, &tiny);
    loop {
        let ran = agent
            .allocations(id)
            .iter()
            .any(|a| matches!(a["ClientStatus"].as_str(), Some("running" | "complete")));
        if ran {
            return started.elapsed().as_secs_f64() * 1000.0;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return f64::INFINITY;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn probe_ms(port: u16) -> f64 {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /v1/status/leader HTTP/1.1\r\nHost: caravan\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    started.elapsed().as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    caravan_api::conn_limit::raise_open_files_limit();
    let agent = Agent::start();
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss_kb = agent.memory_kb("VmRSS");
    let node = agent
        .get_json(&paths::node(agent.node_id().as_str()))
        .expect("the node");
    let memory = (node["NodeResources"]["Memory"]["MemoryMB"]
        .as_i64()
        .unwrap_or(8000)
        - 500)
        / 8;

    let registered = Instant::now();
    register(&agent, &sleeping_job("huge", "service", 1_000_000, memory));
    let first_tiny = tiny_job_ms(&agent, "tiny-0");
    let tiny: Vec<f64> = (1..5)
        .map(|i| tiny_job_ms(&agent, &format!("tiny-{i}")))
        .collect();
    let queued = loop {
        let summary = agent
            .get_json(&paths::job_summary("huge"))
            .unwrap_or_default();
        let queued = summary["Summary"]["g"]["Queued"].as_i64().unwrap_or(0);
        if queued > 0 || registered.elapsed() > Duration::from_secs(30) {
            break queued;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_secs(1));
    let peak_kb = agent.memory_kb("VmHWM");

    let index = agent
        .run(|api| api.send_raw(Method::Get, paths::JOBS, None))
        .map(|answer| answer.index)
        .unwrap_or(1);
    let idle: Vec<TcpStream> = (0..2000)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", agent.port)).ok())
        .collect();
    let blocking: Vec<TcpStream> = (0..500)
        .filter_map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", agent.port)).ok()?;
            let head =
                format!("GET /v1/jobs?index={index}&wait=5m HTTP/1.1\r\nHost: caravan\r\n\r\n");
            stream.write_all(head.as_bytes()).ok()?;
            Some(stream)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut probes: Vec<f64> = (0..20)
        .map(|_| {
            let ms = probe_ms(agent.port);
            std::thread::sleep(Duration::from_millis(20));
            ms
        })
        .collect();
    let loaded_rss_kb = agent.memory_kb("VmRSS");
    probes.sort_by(f64::total_cmp);
    let (idle_open, blocking_open) = (idle.len(), blocking.len());
    drop(idle);
    drop(blocking);

    println!("caravan hostile-input benchmark");
    println!(
        "  idle RSS:                                   {:.1} MiB",
        idle_rss_kb as f64 / 1024.0
    );
    println!(
        "  peak RSS after a count of 1,000,000:        {:.1} MiB ({queued} queued, coalesced)",
        peak_kb as f64 / 1024.0
    );
    println!("  tiny job right after it, to running:        {first_tiny:.1} ms");
    println!(
        "  tiny jobs after that, to running:           median {:.1} ms of {:?}",
        median(tiny.clone()),
        tiny.iter()
            .map(|t| (t * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    println!(
        "  status/leader with {idle_open} idle + {blocking_open} blocking: median {:.2} ms, max {:.2} ms (20 probes)",
        median(probes.clone()),
        probes[probes.len() - 1]
    );
    println!(
        "  RSS with those connections open:           {:.1} MiB",
        loaded_rss_kb as f64 / 1024.0
    );
}
