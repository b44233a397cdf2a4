//! Two scheduler workers racing for the last room of the cluster: the plan applier
//! commits only what still fits, so no node is ever over-committed, and the evaluation
//! that lost is scheduled again and blocks for the rest.

use std::sync::Arc;
use std::time::Duration;

use caravan_scheduler::select::allocs_fit;
use caravan_server::{Server, ServerConfig};
use caravan_structs::*;
use caravan_testkit::{self as testkit, server::settle};

const NODES: usize = 3;
/// Each job's one allocation takes 600 of a node's 1000 MHz: one per node fits.
const JOBS: usize = 4;
const ROUNDS: usize = 20;

fn hungry(id: &str) -> Job {
    testkit::job(id)
        .command("/bin/sleep")
        .resources(600, 64)
        .build()
}

async fn cluster() -> Arc<Server> {
    let server = Server::start(ServerConfig {
        num_schedulers: 2,
        ..ServerConfig::default()
    });
    for n in 0..NODES {
        let node = testkit::node(&format!("n{n}")).cpu(1000).build();
        server.register_node(node).await.unwrap();
    }
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_over_commit_the_last_room_of_a_node() {
    let mut rejected_nodes = 0.0;
    for round in 0..ROUNDS {
        let server = cluster().await;
        let registrations = (0..JOBS).map(|j| {
            let server = server.clone();
            tokio::spawn(async move { server.register_job(hungry(&format!("job{j}"))).await })
        });
        for registration in registrations.collect::<Vec<_>>() {
            registration.await.unwrap().unwrap();
        }
        settle(&server, Duration::from_secs(30)).await;

        let snapshot = server.snapshot();
        let mut placed = 0;
        for node in snapshot.all_nodes() {
            let live: Vec<_> = snapshot
                .allocs_by_node(&node.id)
                .into_iter()
                .filter(|a| !a.terminal())
                .collect();
            assert!(
                allocs_fit(node, live.iter().map(|a| a.as_ref())).is_ok(),
                "round {round}: node {} over-committed with {} allocations",
                node.id,
                live.len()
            );
            placed += live.len();
        }
        assert_eq!(placed, NODES, "round {round}: every node holds one");
        let blocked = snapshot
            .all_evals()
            .filter(|e| e.status == EvalStatus::Blocked)
            .count();
        assert_eq!(
            blocked,
            JOBS - NODES,
            "round {round}: the job left over waits"
        );
        rejected_nodes += server
            .timings
            .values()
            .get("nomad.nomad.plan.node_rejected")
            .copied()
            .unwrap_or(0.0);
    }
    // Not asserted (it depends on timing); shown with --nocapture.
    println!("nodes rejected by the plan applier over {ROUNDS} rounds: {rejected_nodes}");
}
