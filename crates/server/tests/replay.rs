//! Replication-ready: every change a running server makes is one `Command`, and the
//! commands alone rebuild its state. A server runs a day of work (nodes joining, jobs
//! placed, clients reporting, a drain, a node going down, a stop and a garbage
//! collection); its command log, sent through JSON as a replicated log would carry it,
//! is applied to a fresh store, and the result is the same state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use caravan_server::{Server, ServerConfig};
use caravan_state::{Command, StateStore};
use caravan_structs::*;
use caravan_testkit as testkit;

fn node(id: &str) -> Node {
    testkit::node(id).build()
}

fn job(id: &str, kind: JobType, count: i64) -> Job {
    testkit::job(id)
        .kind(kind)
        .count(count)
        .command("/bin/true")
        .resources(100, 64)
        .build()
}

async fn settle(server: &Server) {
    testkit::server::settle(server, Duration::from_secs(3)).await;
}

/// Reports every live allocation of `node` with `status`.
async fn report(server: &Arc<Server>, node: &str, status: AllocClientStatus) {
    let updates: Vec<AllocClientUpdate> = server
        .snapshot()
        .allocs_by_node(node)
        .iter()
        .filter(|a| !a.client_terminal())
        .map(|a| AllocClientUpdate {
            id: a.id.clone(),
            client_status: status,
            client_description: String::new(),
            task_states: BTreeMap::new(),
            deployment_status: None,
        })
        .collect();
    if !updates.is_empty() {
        server
            .update_allocations(node, &format!("secret-{node}"), updates)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_command_log_replayed_into_a_fresh_store_gives_the_same_state() {
    let store = Arc::new(StateStore::recording());
    let server = Server::start_with_state(ServerConfig::default(), store.clone());
    for id in ["n1", "n2", "n3"] {
        server.register_node(node(id)).await.unwrap();
    }
    server
        .register_job(job("web", JobType::Service, 4))
        .await
        .unwrap();
    server
        .register_job(job("batch", JobType::Batch, 2))
        .await
        .unwrap();
    server
        .register_job(job("agent", JobType::System, 1))
        .await
        .unwrap();
    settle(&server).await;
    for id in ["n1", "n2", "n3"] {
        report(&server, id, AllocClientStatus::Running).await;
    }
    server
        .register_job(job("web", JobType::Service, 2))
        .await
        .unwrap();
    settle(&server).await;
    server
        .set_drain("n2", Some(Default::default()), false)
        .await
        .unwrap();
    settle(&server).await;
    report(&server, "n2", AllocClientStatus::Complete).await;
    server.set_drain("n2", None, true).await.unwrap();
    server.register_node(node("n4")).await.unwrap();
    settle(&server).await;
    report(&server, "n1", AllocClientStatus::Failed).await;
    server
        .deregister_job("default", "batch", false)
        .await
        .unwrap();
    settle(&server).await;
    server.collect_garbage(true).await.unwrap();
    settle(&server).await;

    // The state, then the log up to it (one command per index), so that work the
    // server does meanwhile cannot make them disagree.
    let original = store.snapshot();
    let mut log = store.recorded();
    log.truncate(original.index as usize);
    assert!(log.len() > 20, "a real day of work: {} commands", log.len());
    let replayed = StateStore::new();
    for command in &log {
        // Through JSON, as a replicated log would carry it.
        let wire = serde_json::to_vec(command).unwrap();
        let command: Command = serde_json::from_slice(&wire).unwrap();
        replayed.apply(command);
    }
    let copy = replayed.snapshot();
    assert_eq!(copy.index, original.index);
    assert!(*copy == *original, "the replayed state differs");
}

/// A clock that stands still and IDs that count: what a test injects.
struct Fixed(std::sync::atomic::AtomicU64);

impl caravan_server::Clock for Fixed {
    fn now_nanos(&self) -> i64 {
        1_700_000_000_000_000_000
    }
}

impl caravan_server::IdGen for Fixed {
    fn new_id(&self) -> String {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("00000000-0000-0000-0000-{n:012}")
    }
}

#[tokio::test]
async fn the_server_writes_the_time_and_ids_it_is_given() {
    let fixed = Arc::new(Fixed(std::sync::atomic::AtomicU64::new(1)));
    let server = Server::start_with(
        ServerConfig::default(),
        Arc::new(StateStore::new()),
        fixed.clone(),
        fixed,
    );
    server.register_node(node("n1")).await.unwrap();
    let registered = server
        .register_job(job("web", JobType::Service, 1))
        .await
        .unwrap();
    assert_eq!(registered.eval_id, "00000000-0000-0000-0000-000000000001");
    settle(&server).await;
    let snapshot = server.snapshot();
    let allocs = snapshot.allocs_by_job("default", "web");
    assert_eq!(allocs.len(), 1);
    // The second ID is the deployment's the scheduler creates for the job's first
    // version; the allocation's is the third.
    assert_eq!(
        snapshot.latest_deployment("default", "web").unwrap().id,
        "00000000-0000-0000-0000-000000000002"
    );
    assert_eq!(allocs[0].id, "00000000-0000-0000-0000-000000000003");
    assert_eq!(allocs[0].create_time, 1_700_000_000_000_000_000);
    assert_eq!(
        snapshot.job("default", "web").unwrap().submit_time,
        1_700_000_000_000_000_000
    );
}
