//! Node drains with a `DrainSpec`, as Nomad's drainer runs them: the node keeps its
//! `DrainStrategy` until the drain is done; service allocations move at once, batch
//! ones are left to finish until the deadline forces them off, and `IgnoreSystemJobs`
//! leaves system allocations in place.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use caravan_server::{ManualClock, Server};
use caravan_structs::*;
use caravan_testkit::{self as testkit, server::live_allocs, server::settle, wait};

const START: i64 = 1_700_000_000_000_000_000;
const SECOND: i64 = 1_000_000_000;

fn job(id: &str, kind: JobType) -> Job {
    testkit::job(id)
        .kind(kind)
        .command("/bin/sleep")
        .resources(10, 10)
        .build()
}

/// A server whose first node, `n1`, runs a service (`web`), a batch (`report`) and a
/// system job (`agent`); `n2` joins after, with room for them.
async fn busy_node() -> (Arc<ManualClock>, Arc<Server>) {
    let clock = Arc::new(ManualClock::new(START));
    let server = testkit::server::start_at(&clock);
    server
        .register_node(testkit::node("n1").build())
        .await
        .unwrap();
    for (id, kind) in [
        ("web", JobType::Service),
        ("report", JobType::Batch),
        ("agent", JobType::System),
    ] {
        server.register_job(job(id, kind)).await.unwrap();
    }
    settle(&server, Duration::from_secs(3)).await;
    server
        .register_node(testkit::node("n2").build())
        .await
        .unwrap();
    settle(&server, Duration::from_secs(3)).await;
    (clock, server)
}

fn nodes_of(server: &Server, job: &str) -> Vec<String> {
    let mut nodes: Vec<String> = live_allocs(server, job)
        .iter()
        .map(|a| a.node_id.to_string())
        .collect();
    nodes.sort();
    nodes
}

/// What n1's client does: it stops the allocations the servers stopped and reports
/// them complete.
async fn client_stops_what_was_stopped(server: &Arc<Server>) {
    let updates: Vec<AllocClientUpdate> = server
        .snapshot()
        .allocs_by_node("n1")
        .iter()
        .filter(|a| a.server_terminal() && !a.client_terminal())
        .map(|a| AllocClientUpdate {
            id: a.id.clone(),
            client_status: AllocClientStatus::Complete,
            client_description: String::new(),
            task_states: BTreeMap::new(),
            deployment_status: None,
        })
        .collect();
    server
        .update_allocations("n1", "secret-n1", updates)
        .await
        .unwrap();
}

fn n1(server: &Server) -> Arc<Node> {
    server.snapshot().node("n1").unwrap()
}

#[tokio::test]
async fn a_drain_waits_for_batch_work_until_its_deadline_and_can_leave_system_jobs() {
    let (clock, server) = busy_node().await;
    assert_eq!(nodes_of(&server, "web"), ["n1"]);
    assert_eq!(nodes_of(&server, "report"), ["n1"]);
    assert_eq!(nodes_of(&server, "agent"), ["n1", "n2"]);

    let spec = DrainSpec {
        deadline: 2 * SECOND,
        ignore_system_jobs: true,
    };
    server
        .set_drain("n1", Some(spec.clone()), false)
        .await
        .unwrap();
    settle(&server, Duration::from_secs(3)).await;
    let strategy = n1(&server)
        .drain_strategy
        .clone()
        .expect("a drain strategy");
    assert_eq!(
        strategy,
        DrainStrategy {
            drain_spec: spec,
            force_deadline: time::rfc3339(START + 2 * SECOND),
            started_at: time::rfc3339(START),
        }
    );
    // The service moved; the batch allocation is left to finish; the system one stays.
    assert_eq!(nodes_of(&server, "web"), ["n2"]);
    assert_eq!(nodes_of(&server, "report"), ["n1"]);
    assert_eq!(nodes_of(&server, "agent"), ["n1", "n2"]);
    client_stops_what_was_stopped(&server).await;
    assert!(n1(&server).drain, "the batch allocation still runs");

    // Past the deadline the batch allocation is forced off, and the drain is done.
    // (Within the nodes' heartbeat TTL: no heartbeats here, and down nodes end no drain.)
    clock.advance(Duration::from_secs(3));
    wait::until(
        "the batch allocation to be stopped",
        Duration::from_secs(3),
        || !nodes_of(&server, "report").contains(&"n1".to_string()),
    )
    .await;
    settle(&server, Duration::from_secs(3)).await;
    client_stops_what_was_stopped(&server).await;
    assert!(!n1(&server).drain, "the drain is done");
    assert!(!nodes_of(&server, "report").contains(&"n1".to_string()));
    assert_eq!(nodes_of(&server, "agent"), ["n1", "n2"]);
    let node = n1(&server);
    assert_eq!(
        node.drain_strategy, None,
        "a finished drain keeps no strategy"
    );
    assert_eq!(node.scheduling_eligibility, NodeEligibility::Ineligible);
    assert_eq!(
        node.events.last().map(|e| e.message.as_str()),
        Some("Node drain complete")
    );
}

#[tokio::test]
async fn a_forced_drain_stops_everything_at_once() {
    let (_clock, server) = busy_node().await;
    let forced = DrainSpec {
        deadline: -1,
        ignore_system_jobs: false,
    };
    server.set_drain("n1", Some(forced), false).await.unwrap();
    settle(&server, Duration::from_secs(3)).await;
    client_stops_what_was_stopped(&server).await;
    assert!(!n1(&server).drain, "the drain is done");
    for job in ["web", "report", "agent"] {
        assert!(
            !nodes_of(&server, job).contains(&"n1".to_string()),
            "{job} still on n1"
        );
    }
    assert_eq!(n1(&server).drain_strategy, None);
}

#[tokio::test]
async fn a_drain_without_deadline_keeps_its_strategy_until_cancelled() {
    let (_clock, server) = busy_node().await;
    let endless = DrainSpec {
        deadline: 0,
        ignore_system_jobs: false,
    };
    server.set_drain("n1", Some(endless), false).await.unwrap();
    settle(&server, Duration::from_secs(3)).await;
    let strategy = n1(&server)
        .drain_strategy
        .clone()
        .expect("a drain strategy");
    assert_eq!(strategy.force_deadline, ZERO_TIME);
    assert_eq!(nodes_of(&server, "report"), ["n1"]);
    assert_eq!(nodes_of(&server, "agent"), ["n2"]);

    server.set_drain("n1", None, true).await.unwrap();
    let node = n1(&server);
    assert!(!node.drain);
    assert_eq!(node.drain_strategy, None);
    assert_eq!(node.scheduling_eligibility, NodeEligibility::Eligible);
}

#[tokio::test]
async fn a_drain_ends_when_its_node_goes_down() {
    let (clock, server) = busy_node().await;
    let endless = DrainSpec {
        deadline: 0,
        ignore_system_jobs: false,
    };
    server.set_drain("n1", Some(endless), false).await.unwrap();
    settle(&server, Duration::from_secs(3)).await;
    assert!(n1(&server).drain, "the batch allocation still runs");
    // No heartbeats: past their TTL and grace the nodes are down, their work lost.
    clock.advance(Duration::from_secs(600));
    wait::until("the drain to end", Duration::from_secs(3), || {
        !n1(&server).drain
    })
    .await;
    let node = n1(&server);
    assert_eq!(node.status, NodeStatus::Down);
    assert_eq!(node.drain_strategy, None);
}
