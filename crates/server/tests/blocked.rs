//! Blocked evaluations: work that cannot be placed waits, and is placed as soon as
//! capacity appears.

use std::collections::BTreeMap;
use std::time::Duration;

use caravan_server::{Server, ServerConfig};
use caravan_structs::*;
use caravan_testkit::{self as testkit, wait};

fn node(id: &str, cpu: i64) -> Node {
    testkit::node(id).cpu(cpu).build()
}

fn job(count: i64) -> Job {
    testkit::job("web")
        .count(count)
        .command("/bin/true")
        .resources(500, 100)
        .build()
}

async fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait::until(what, Duration::from_secs(2), check).await;
}

fn live_allocs(server: &Server) -> usize {
    testkit::server::live_allocs(server, "web").len()
}

#[tokio::test]
async fn queued_work_is_placed_when_a_node_joins() {
    let server = Server::start(ServerConfig::default());
    let registered = server.register_job(job(3)).await.unwrap();
    eventually("a blocked evaluation", || {
        let snapshot = server.snapshot();
        snapshot
            .eval(&registered.eval_id)
            .is_some_and(|e| e.status == EvalStatus::Complete && !e.blocked_eval.is_empty())
    })
    .await;
    let snapshot = server.snapshot();
    let blocked_id = snapshot
        .eval(&registered.eval_id)
        .unwrap()
        .blocked_eval
        .clone();
    assert_eq!(
        snapshot.eval(&blocked_id).unwrap().status,
        EvalStatus::Blocked
    );
    assert_eq!(
        snapshot.job_summary("default", "web").unwrap().summary["g"].queued,
        3
    );

    server.register_node(node("n1", 4000)).await.unwrap();
    eventually("the three allocations", || live_allocs(&server) == 3).await;
    eventually("the blocked evaluation to complete", || {
        server
            .snapshot()
            .eval(&blocked_id)
            .is_some_and(|e| e.status == EvalStatus::Complete)
    })
    .await;
    assert_eq!(
        server
            .snapshot()
            .job_summary("default", "web")
            .unwrap()
            .summary["g"]
            .queued,
        0
    );
}

#[tokio::test]
async fn queued_work_is_placed_when_capacity_frees_up() {
    let server = Server::start(ServerConfig::default());
    let n1 = node("n1", 1000);
    server.register_node(n1.clone()).await.unwrap();
    server.register_job(job(3)).await.unwrap();
    // Two of three fit; the third waits.
    eventually("two placed allocations", || live_allocs(&server) == 2).await;
    let first = server.snapshot().allocs_by_job("default", "web")[0].clone();
    let update = AllocClientUpdate {
        id: first.id.clone(),
        client_status: AllocClientStatus::Failed,
        client_description: "Failed tasks".into(),
        task_states: BTreeMap::new(),
        deployment_status: None,
    };
    server
        .update_allocations("n1", &n1.secret_id, vec![update])
        .await
        .unwrap();
    eventually("the queued allocation to take the freed room", || {
        server
            .snapshot()
            .allocs_by_job("default", "web")
            .iter()
            .filter(|a| !a.terminal())
            .count()
            == 2
            && server.snapshot().allocs_by_job("default", "web").len() == 3
    })
    .await;
}

#[tokio::test]
async fn a_client_with_the_wrong_secret_is_refused() {
    let server = Server::start(ServerConfig::default());
    server.register_node(node("n1", 1000)).await.unwrap();
    assert!(server.heartbeat("n1", "not-the-secret").await.is_err());
    assert!(server.heartbeat("n1", "secret-n1").await.is_ok());
    let mut impostor = node("n1", 1000);
    impostor.secret_id = "other".into();
    assert!(server.register_node(impostor).await.is_err());
}
