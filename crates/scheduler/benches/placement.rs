//! Placement throughput and latency on in-memory clusters (after Nomad's
//! `scheduler/benchmarks`): `cargo bench -p caravan-scheduler`.
//!
//! - a service job of count 10,000 with one constraint (`${attr.kernel.name} = linux`) and
//!   one spread on `${meta.rack}`, on 5,000 and 10,000 nodes: placements per second;
//! - a service job of count 1 on 10,000 nodes: median microseconds per evaluation over
//!   100 evaluations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caravan_scheduler::SchedulerAlgorithm;
use caravan_structs::*;
use caravan_testkit as testkit;
use caravan_testkit::scheduler::{self, MemState};

/// `count` nodes, sorted by ID as the state store keeps them: 1 in 20 runs windows, a
/// few kernel and OS versions, cpu and memory in four sizes, `racks` racks.
fn cluster(count: usize, racks: usize) -> Vec<Arc<Node>> {
    let mut nodes: Vec<Arc<Node>> = (0..count)
        .map(|i| {
            let windows = i % 20 == 7;
            let size = 1 + (i % 4) as i64;
            let id = format!(
                "{:08x}-{:04x}-4000-8000-{:012x}",
                i * 2_654_435_761 % 0xffff_ffff,
                i % 0xffff,
                i
            );
            testkit::node(&id)
                .secret("")
                .name(&format!("client-{i}"))
                .datacenter(["dc1", "dc2", "dc3"][i % 3])
                .ready()
                .attribute("kernel.name", if windows { "windows" } else { "linux" })
                .attribute("kernel.version", &format!("{}.{}.0", 4 + i % 3, i % 19))
                .attribute("os.name", "ubuntu")
                .attribute("os.version", ["20.04", "22.04", "24.04"][i % 3])
                .attribute("cpu.numcores", &(4 << (i % 3)).to_string())
                .attribute(
                    "unique.network.ip-address",
                    &format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
                )
                .meta("rack", &format!("rack-{:02}", i % racks))
                .node_pool("default")
                .cpu(4000 * size)
                .memory(8192 * size)
                .disk(100_000)
                .arc()
        })
        .collect();
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    nodes
}

fn job(count: i64, spread: bool) -> Job {
    testkit::job("bench")
        .kind(JobType::Service)
        .datacenters(&["dc*"])
        .with(|job| {
            job.constraints = vec![Constraint {
                l_target: "${attr.kernel.name}".to_string(),
                r_target: "linux".to_string(),
                operand: "=".to_string(),
            }];
        })
        .group_name("web")
        .count(count)
        .group(|group| {
            if spread {
                group.spreads = vec![Spread {
                    attribute: "${meta.rack}".to_string(),
                    weight: 50,
                    spread_target: Vec::new(),
                }];
            }
        })
        .task_name("server")
        .resources(100, 256)
        .canonical()
}

fn evaluate(state: &MemState, eval_id: &str, algorithm: SchedulerAlgorithm) -> (Plan, Duration) {
    let started = Instant::now();
    let plan = scheduler::evaluate(state, eval_id, algorithm);
    (plan, started.elapsed())
}

fn throughput(nodes: usize, racks: usize, algorithm: SchedulerAlgorithm) {
    let state = MemState {
        deployment: None,
        job: Some(Arc::new(job(10_000, true))),
        nodes: cluster(nodes, racks),
        ..MemState::default()
    };
    let mut best = Duration::MAX;
    let mut placed = 0;
    let mut evaluated = 0;
    for round in 0..3 {
        let (plan, took) = evaluate(&state, &format!("eval-{round}"), algorithm);
        let allocs: Vec<&Allocation> = plan.node_allocation.values().flatten().collect();
        placed = allocs.len();
        evaluated = allocs
            .iter()
            .map(|a| a.metrics.nodes_evaluated)
            .sum::<i64>();
        best = best.min(took);
    }
    let mut per_rack: BTreeMap<&str, usize> = BTreeMap::new();
    let by_id: BTreeMap<&str, &Arc<Node>> =
        state.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let (plan, _) = evaluate(&state, "eval-0", algorithm);
    for alloc in plan.node_allocation.values().flatten() {
        *per_rack
            .entry(by_id[alloc.node_id.as_str()].meta["rack"].as_str())
            .or_default() += 1;
    }
    let (lo, hi) = (
        per_rack.values().min().copied().unwrap_or(0),
        per_rack.values().max().copied().unwrap_or(0),
    );
    println!(
        "count 10000, {nodes} nodes, {racks} racks, constraint + spread ({}): {placed} placed in {:.1} ms = {:.0} placements/s; {:.1} nodes evaluated per placement; per rack {lo}..{hi}",
        algorithm.as_str(),
        best.as_secs_f64() * 1e3,
        placed as f64 / best.as_secs_f64(),
        evaluated as f64 / placed.max(1) as f64,
    );
}

fn latency(nodes: usize, spread: bool) {
    let state = MemState {
        deployment: None,
        job: Some(Arc::new(job(1, spread))),
        nodes: cluster(nodes, 50),
        ..MemState::default()
    };
    let mut times: Vec<Duration> = (0..100)
        .map(|i| evaluate(&state, &format!("eval-{i}"), SchedulerAlgorithm::BinPack).1)
        .collect();
    times.sort();
    println!(
        "count 1, {nodes} nodes{}: median {:.0} µs, p90 {:.0} µs per evaluation (100 evaluations)",
        if spread { ", spread" } else { "" },
        times[50].as_secs_f64() * 1e6,
        times[90].as_secs_f64() * 1e6,
    );
}

fn main() {
    // `cargo test --benches` runs this too; keep that quick.
    if std::env::args().any(|a| a == "--test") {
        latency(100, false);
        return;
    }
    throughput(5_000, 25, SchedulerAlgorithm::BinPack);
    throughput(10_000, 75, SchedulerAlgorithm::BinPack);
    throughput(10_000, 75, SchedulerAlgorithm::Spread);
    latency(10_000, false);
    latency(10_000, true);
}
