//! `server { num_schedulers = 2 }`: two scheduler workers place many jobs submitted at
//! once, every one of them, without over-committing the node, and `/v1/metrics` shows
//! the broker, worker and plan series they measured.

mod common;

use std::time::Duration;

use common::*;

const JOBS: usize = 12;

/// CPU shares the node's live allocations hold, and what the node has.
fn node_cpu(agent: &Agent) -> (i64, i64) {
    let node_id = agent.node_id();
    let node = agent
        .get_json(&format!("/v1/node/{node_id}"))
        .expect("the node");
    let capacity = node["NodeResources"]["Cpu"]["CpuShares"]
        .as_i64()
        .expect("the node's cpu");
    let allocs = agent
        .get_json(&format!("/v1/node/{node_id}/allocations"))
        .expect("the node's allocations");
    let used = allocs
        .as_array()
        .expect("a list")
        .iter()
        .filter(|a| a["DesiredStatus"] == "run")
        .flat_map(|a| {
            a["AllocatedResources"]["Tasks"]
                .as_object()
                .into_iter()
                .flat_map(|tasks| tasks.values())
                .map(|t| t["Cpu"]["CpuShares"].as_i64().unwrap_or(0))
                .collect::<Vec<_>>()
        })
        .sum();
    (used, capacity)
}

#[test]
fn two_scheduler_workers_place_jobs_submitted_at_once() {
    let agent = Agent::with_config(&["-dev"], "server {\n  num_schedulers = 2\n}\n");
    agent.wait_for_ready_nodes(1);
    std::thread::scope(|threads| {
        for j in 0..JOBS {
            let agent = &agent;
            threads.spawn(move || {
                let body = sleeping_job(&format!("parallel-{j}"), "service", 1, 16);
                let (status, answer) = agent.send_json(Method::Put, "/v1/jobs", &body);
                assert_eq!(status, 200, "{answer}");
            });
        }
    });
    agent.eventually(
        "every job to have a running allocation",
        Duration::from_secs(60),
        || {
            (0..JOBS).all(|j| {
                agent
                    .allocations(&format!("parallel-{j}"))
                    .iter()
                    .any(|a| a["ClientStatus"] == "running")
            })
        },
    );
    let (used, capacity) = node_cpu(&agent);
    assert!(used <= capacity, "node holds {used} of {capacity} MHz");
    assert_eq!(used, 20 * JOBS as i64, "one 20 MHz allocation per job");

    let metrics = agent
        .run(|api| api.send_raw(Method::Get, "/v1/metrics?format=prometheus", None))
        .expect("scrape")
        .body;
    for series in [
        "nomad_nomad_worker_dequeue_eval_count{",
        "nomad_nomad_worker_submit_plan_count{",
        "nomad_nomad_worker_invoke_scheduler_service_count{",
        "nomad_nomad_plan_submit_count{",
        "nomad_nomad_plan_apply_count{",
        "nomad_nomad_plan_queue_depth{",
        "nomad_nomad_broker_total_unacked{",
        "nomad_nomad_broker_total_pending{",
    ] {
        assert!(metrics.contains(series), "no {series} in\n{metrics}");
    }
}
