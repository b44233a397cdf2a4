//! Issue 12: an agent that bad input cannot exhaust. A count of a million runs in bounded
//! memory and holds nobody up; idle connections and blocking queries leave the agent
//! answering; deep, oversized and badly named bodies are 400s (413 for size) naming what
//! is wrong; nothing panics.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn assert_no_panic(agent: &DevAgent) {
    let log = agent.log();
    assert!(!log.contains("panicked"), "the agent panicked:\n{log}");
}

/// The node's memory in MB, as the scheduler counts it.
fn node_memory_mb(agent: &DevAgent) -> i64 {
    let node = agent
        .get_json(&paths::node(agent.node_id().as_str()))
        .unwrap();
    node["NodeResources"]["Memory"]["MemoryMB"]
        .as_i64()
        .expect("the node reports its memory")
}

/// How long after its registration tiny batch job `id` has an allocation that runs or
/// ran (`None`: not within 10 s).
fn time_to_run(agent: &DevAgent, id: &str) -> Option<Duration> {
    let started = Instant::now();
    let (status, body) = agent.send_json(Method::Put, paths::JOBS, &true_batch_job(id, "dc1"));
    assert_eq!(status, 200, "{body}");
    while started.elapsed() < Duration::from_secs(10) {
        let ran = agent
            .allocations(id)
            .iter()
            .any(|a| matches!(a["ClientStatus"].as_str(), Some("running" | "complete")));
        if ran {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn a_count_of_a_million_runs_in_bounded_memory_and_holds_no_other_job_up() {
    let agent = DevAgent::start();
    // Eight copies fit, with room left for the tiny jobs; the rest cannot.
    let memory = (node_memory_mb(&agent) - 500) / 8;
    let mut latencies = Vec::new();
    // Each try submits another huge job, then at once a tiny one; the best of three
    // counts, so a CI box busy elsewhere for a moment does not decide.
    for attempt in 0..3 {
        let huge = format!("huge-{attempt}");
        let (status, body) = agent.send_json(
            Method::Put,
            paths::JOBS,
            &sleeping_job(&huge, "service", 1_000_000, memory),
        );
        assert_eq!(status, 200, "{body}");
        let latency = time_to_run(&agent, &format!("tiny-{attempt}"));
        latencies.push(latency);
        if latency.is_some_and(|l| l < Duration::from_secs(1)) {
            break;
        }
    }
    eprintln!("tiny job submitted after a count of 1e6 ran after {latencies:?}");
    assert!(
        latencies
            .iter()
            .flatten()
            .any(|l| *l < Duration::from_secs(1)),
        "the tiny job never ran within a second: {latencies:?}"
    );
    // The huge job placed what fits and counts the rest.
    agent.eventually(
        "the huge job's summary to count what is queued",
        Duration::from_secs(10),
        || {
            let summary = agent.get_json(&paths::job_summary("huge-0")).unwrap();
            let group = &summary["Summary"]["g"];
            let placed =
                group["Running"].as_i64().unwrap_or(0) + group["Starting"].as_i64().unwrap_or(0);
            placed > 0 && group["Queued"].as_i64() == Some(1_000_000 - placed)
        },
    );
    let evals = agent.get_json(&paths::job_evaluations("huge-0")).unwrap();
    let coalesced = evals
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["FailedTGAllocs"]["g"]["CoalescedFailures"].as_i64())
        .max()
        .unwrap_or(0);
    assert!(coalesced > 999_000, "{evals}");
    let peak_mb = agent.memory_kb("VmHWM") / 1024;
    eprintln!("agent peak RSS with counts of 1e6: {peak_mb} MB");
    assert!(peak_mb < 300, "the agent's RSS peaked at {peak_mb} MB");
    assert_no_panic(&agent);
}

/// Raises this process's open-files limit to what `needed` connections take, or says
/// why the test cannot run here.
fn enough_open_files(needed: u64) -> Result<(), String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err("getrlimit failed".into());
        }
        if limit.rlim_max < needed {
            return Err(format!(
                "the hard open-files limit is {}; the test needs {needed}",
                limit.rlim_max
            ));
        }
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err("setrlimit failed".into());
        }
    }
    Ok(())
}

/// Sends a request on a fresh connection and reads the whole answer.
fn request(port: u16, head: &str, body: &[u8]) -> String {
    request_to(IpAddr::from([127, 0, 0, 1]), port, head, body)
}

/// [`request`] to `ip`.
fn request_to(ip: IpAddr, port: u16, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect((ip, port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    // The agent may answer and close before the whole body is sent: that is the point
    // of an early 413, and not an error here.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// One `GET /v1/status/leader` on a fresh connection: how long until its answer.
fn probe(port: u16) -> Duration {
    let started = Instant::now();
    let answer = request(
        port,
        "GET /v1/status/leader HTTP/1.1\r\nHost: caravan\r\nConnection: close\r\n\r\n",
        b"",
    );
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    took
}

/// Whether the agent closed `stream` (end of stream or an error), without waiting.
fn closed_by_agent(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let closed = match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

#[test]
fn idle_connections_and_blocking_queries_leave_the_agent_answering() {
    const IDLE: usize = 2000;
    const BLOCKING: usize = 500;
    if let Err(why) = enough_open_files(4 * (IDLE + BLOCKING) as u64) {
        eprintln!("skipped: {why}");
        return;
    }
    let agent = DevAgent::start();
    let index = agent
        .run(|api| api.send_raw(Method::Get, paths::JOBS, None))
        .unwrap()
        .index;
    let opened = Instant::now();
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(("127.0.0.1", agent.port)).unwrap())
        .collect();
    let blocking: Vec<TcpStream> = (0..BLOCKING)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
            let head =
                format!("GET /v1/jobs?index={index}&wait=5m HTTP/1.1\r\nHost: caravan\r\n\r\n");
            stream.write_all(head.as_bytes()).unwrap();
            stream
        })
        .collect();
    // A moment for the agent to take them all in, then the best of five probes.
    std::thread::sleep(Duration::from_millis(200));
    let probes: Vec<Duration> = (0..5)
        .map(|_| {
            let took = probe(agent.port);
            std::thread::sleep(Duration::from_millis(50));
            took
        })
        .collect();
    let probed_within = opened.elapsed();
    eprintln!(
        "status/leader under {IDLE} idle connections and {BLOCKING} blocking queries: {probes:?}"
    );
    let best = probes.iter().min().copied().unwrap_or_default();
    assert!(
        best < Duration::from_millis(100),
        "the best probe took {best:?}: {probes:?}"
    );
    // The blocking queries are still waiting: nothing has changed.
    assert!(blocking.iter().all(|s| !closed_by_agent(s)));
    // Idle connections that never sent a byte are closed after the handshake timeout
    // (5 s by default, `limits.https_handshake_timeout`); the blocking queries stay.
    assert!(
        probed_within < Duration::from_secs(5),
        "opening the connections took {probed_within:?}, past the handshake timeout"
    );
    agent.eventually(
        "the idle connections to be closed",
        Duration::from_secs(15),
        || idle.iter().all(closed_by_agent),
    );
    assert!(blocking.iter().all(|s| !closed_by_agent(s)));
    assert!(probe(agent.port) < Duration::from_secs(5));
    assert_no_panic(&agent);
}

#[test]
fn deep_oversized_and_badly_named_bodies_are_refused_naming_what_is_wrong() {
    let agent = DevAgent::start();
    let send = |path: &str, body: &[u8]| {
        let answer = agent
            .run(|api| api.send_raw(Method::Put, path, Some(body)))
            .unwrap();
        (answer.status, answer.body)
    };
    // JSON nested far past serde_json's limit of 128, bare and inside a job.
    let deep_array = "[".repeat(100_000);
    let deep_meta = format!(
        "{{\"Job\":{{\"ID\":\"x\",\"Meta\":{}",
        "{\"a\":".repeat(100_000)
    );
    for body in [&deep_array, &deep_meta] {
        let (status, text) = send(paths::JOBS, body.as_bytes());
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("nested more than 128 levels deep"), "{text}");
    }
    // HCL nested past the parsers' limits, HCL2 and HCL1.
    let nested_blocks = format!(
        "job \"x\" {{\n{}{}}}\n",
        "a {\n".repeat(5000),
        "}\n".repeat(5000)
    );
    let deep_value = format!(
        "job \"x\" {{\n  meta {{\n    a = {}1{}\n  }}\n}}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    for (hcl, hclv1, want) in [
        (&nested_blocks, false, "nesting depth"),
        (&deep_value, false, "nesting depth"),
        (&nested_blocks, true, "nesting deeper than 100 levels"),
        (&deep_value, true, "nesting deeper than 100 levels"),
    ] {
        let body = json!({"JobHCL": hcl, "hclv1": hclv1}).to_string();
        let answer = agent
            .run(|api| api.send_raw(Method::Post, paths::JOBS_PARSE, Some(body.as_bytes())))
            .unwrap();
        assert_eq!(answer.status, 400, "hclv1={hclv1}: {}", answer.body);
        assert!(answer.body.contains(want), "hclv1={hclv1}: {}", answer.body);
    }
    // Past the 2 MiB body limit: declared, and chunked without a Content-Length.
    let big = vec![b' '; 3 << 20];
    let declared = request(
        agent.port,
        &format!(
            "PUT /v1/jobs HTTP/1.1\r\nHost: caravan\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            big.len()
        ),
        &big,
    );
    let mut chunked = Vec::new();
    for _ in 0..48 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1 << 16).as_bytes());
        chunked.extend_from_slice(&[b' '; 1 << 16]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let streamed = request(
        agent.port,
        "PUT /v1/jobs HTTP/1.1\r\nHost: caravan\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        &chunked,
    );
    for answer in [&declared, &streamed] {
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("at most 2 MiB (2097152 bytes)"), "{answer}");
    }
    // Names Nomad forbids, each a 400 naming the field.
    let named = |id: &str, group: &str, task: &str| {
        let mut job = sleeping_job(id, "batch", 1, 10);
        job["Job"]["TaskGroups"][0]["Name"] = json!(group);
        job["Job"]["TaskGroups"][0]["Tasks"][0]["Name"] = json!(task);
        job
    };
    for (job, want) in [
        (named("", "g", "t"), "Missing job ID"),
        (named("a b", "g", "t"), "ID contains a space"),
        (named("a\0b", "g", "t"), "null character"),
        (named("..", "g", "t"), "ID cannot be \".\" or \"..\""),
        (named("a/b", "g", "t"), "ID cannot include slashes"),
        (named("j", "", "t"), "group 1 is missing a name"),
        (named("j", ".", "t"), "Group name cannot be \".\" or \"..\""),
        (named("j", "a/b", "t"), "Group name cannot include slashes"),
        (
            named("j", "g\u{1}", "t"),
            "Group name cannot include control characters",
        ),
        (named("j", "g", ""), "task 1 is missing a name"),
        (named("j", "g", ".."), "Task name cannot be \".\" or \"..\""),
        (
            named("j", "g", "../etc"),
            "Task name cannot include slashes",
        ),
        (
            named("j", "g", "t\0"),
            "Task name cannot include null characters",
        ),
        (
            named("j", "g", "t\n"),
            "Task name cannot include control characters",
        ),
        (
            sleeping_job("neg", "batch", -1, 10),
            "count must be >= 0, got -1",
        ),
    ] {
        let (status, text) = agent.send_json(Method::Put, paths::JOBS, &job);
        assert_eq!(status, 400, "{want}: {text}");
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(agent.get_json(paths::JOBS).unwrap(), json!([]));
    assert_no_panic(&agent);
}

/// This host's address on its default route, if it has one besides loopback.
fn non_loopback_ip() -> Option<IpAddr> {
    // Connecting a UDP socket sends nothing; it only picks the source address.
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("198.51.100.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Whether the agent has neither answered nor closed a connection we sent nothing on.
fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let open = matches!(
        stream.peek(&mut [0; 1]),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
    );
    stream.set_nonblocking(false).unwrap();
    open
}

#[test]
fn a_remote_address_past_its_connection_limit_is_answered_429_and_loopback_is_not() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("skipped: this host has no address besides loopback");
        return;
    };
    // The HTTP API on the host's own non-loopback address, so that connections from
    // this test come from an address the limit counts.
    let agent = DevAgent::with_config(
        &["-dev"],
        &format!(
            "addresses {{\n  http = \"{ip}\"\n}}\nlimits {{\n  http_max_conns_per_client = 5\n  https_handshake_timeout = \"60s\"\n}}\n"
        ),
    );
    let leader = "GET /v1/status/leader HTTP/1.1\r\nHost: caravan\r\nConnection: close\r\n\r\n";
    // Served, not just listening: connections wait in the kernel's queue until the
    // agent starts accepting.
    let answers = || {
        TcpStream::connect((ip, agent.port)).is_ok()
            && request_to(ip, agent.port, leader, b"").starts_with("HTTP/1.1 200")
    };
    agent.eventually("the API to answer", Duration::from_secs(20), answers);
    // The probes' own connections count until the agent has seen them close, which
    // can be after their answers arrive: five held connections are five places only
    // once none of them was the one turned away.
    let mut held = Vec::new();
    agent.eventually(
        "five connections to be held open",
        Duration::from_secs(10),
        || {
            // A retry's earlier connections, too, count until the agent sees them go.
            if !held.is_empty() {
                held.clear();
                std::thread::sleep(Duration::from_millis(200));
            }
            held = (0..5)
                .map(|_| TcpStream::connect((ip, agent.port)).unwrap())
                .collect();
            std::thread::sleep(Duration::from_millis(200));
            held.iter().all(still_open)
        },
    );
    let refused = request_to(ip, agent.port, leader, b"");
    assert!(
        refused.starts_with("HTTP/1.1 429"),
        "{refused}\n{}",
        agent
            .log()
            .lines()
            .filter(|l| l.contains("refused"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        refused.contains("5 per address: limits.http_max_conns_per_client"),
        "{refused}"
    );
    // Closed connections free their places.
    drop(held);
    agent.eventually(
        "the address to be served again",
        Duration::from_secs(5),
        || request_to(ip, agent.port, leader, b"").starts_with("HTTP/1.1 200"),
    );
    assert_no_panic(&agent);
}
