//! Two scheduler workers racing for the last room of the cluster: the plan applier
//! commits only what still fits, so no node is ever over-committed, and the evaluation
//! that lost is scheduled again and blocks for the rest. And the broker's delivery
//! limit: an evaluation no worker acks fails, with a follow-up.

use std::sync::Arc;
use std::time::Duration;

use caravan_scheduler::select::allocs_fit;
use caravan_server::{ManualClock, RandomIds, Server, ServerConfig};
use caravan_state::StateStore;
use caravan_structs::*;
use caravan_testkit::{self as testkit, server::settle, wait};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluation_never_acked_fails_once_delivered_three_times() {
    const START: i64 = 1_700_000_000_000_000_000;
    let clock = Arc::new(ManualClock::new(START));
    let server = Server::start_with(
        ServerConfig {
            num_schedulers: 5,
            ..ServerConfig::default()
        },
        Arc::new(StateStore::new()),
        clock.clone(),
        Arc::new(RandomIds),
    );
    // No node: no heartbeat expires as the clock jumps, and the jobs only block.
    // Once an evaluation has gone through, the workers wait in the broker.
    server.register_job(hungry("warm-up")).await.unwrap();
    settle(&server, Duration::from_secs(10)).await;
    // Paused now, each worker that takes an evaluation holds it without acking it.
    let mut paused = server.scheduler_configuration();
    paused.pause_eval_broker = true;
    server
        .set_scheduler_configuration(paused.clone())
        .await
        .unwrap();
    let eval_id = server.register_job(hungry("stuck")).await.unwrap().eval_id;
    let broker = || server.leader_stats().broker;
    for delivery in 1..=3 {
        wait::until(
            &format!("delivery {delivery}"),
            Duration::from_secs(10),
            || broker().unacked == 1,
        )
        .await;
        // Past the nack timeout (60s), then past the redelivery delay (1s, then 20s).
        clock.advance(Duration::from_secs(61));
        wait::until("the nack", Duration::from_secs(10), || {
            broker().unacked == 0
        })
        .await;
        clock.advance(Duration::from_secs(21));
    }
    let failed = |snapshot: &caravan_state::Snapshot| {
        snapshot
            .eval(&eval_id)
            .filter(|e| e.status == EvalStatus::Failed)
    };
    wait::until("the evaluation to fail", Duration::from_secs(10), || {
        failed(&server.snapshot()).is_some()
    })
    .await;
    let snapshot = server.snapshot();
    let eval = failed(&snapshot).unwrap();
    assert_eq!(
        eval.status_description,
        "evaluation reached delivery limit (3)"
    );
    let follow_up = snapshot
        .eval(&eval.next_eval)
        .expect("a follow-up evaluation");
    assert_eq!(follow_up.triggered_by, EvalTrigger::FailedFollowUp);
    assert_eq!(follow_up.previous_eval, eval.id);
    assert_eq!(broker().failed, 0, "the reaper took it");

    paused.pause_eval_broker = false;
    server.set_scheduler_configuration(paused).await.unwrap();
}
