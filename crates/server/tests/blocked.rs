//! Blocked evaluations: work that cannot be placed waits, and is placed as soon as
//! capacity appears.

use std::collections::BTreeMap;
use std::time::Duration;

use caravan_server::{Server, ServerConfig};
use caravan_structs::*;

fn node(id: &str, cpu: i64) -> Node {
    Node {
        id: id.into(),
        secret_id: format!("secret-{id}"),
        name: id.into(),
        datacenter: "dc1".into(),
        node_resources: NodeResources {
            cpu: CpuResources { cpu_shares: cpu },
            memory: MemoryResources {
                memory_mb: 4096,
                memory_max_mb: 0,
            },
            disk: DiskResources { disk_mb: 10_000 },
        },
        drivers: BTreeMap::from([(
            "raw_exec".to_string(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..DriverInfo::default()
            },
        )]),
        ..Node::default()
    }
}

fn job(count: i64) -> Job {
    Job {
        id: "web".into(),
        task_groups: vec![TaskGroup {
            name: "g".into(),
            count,
            tasks: vec![Task {
                name: "t".into(),
                driver: "raw_exec".into(),
                config: serde_json::json!({"command": "/bin/true"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                resources: Resources {
                    cpu: 500,
                    memory_mb: 100,
                    ..Resources::default()
                },
                ..Task::default()
            }],
            ..TaskGroup::default()
        }],
        ..Job::default()
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn live_allocs(server: &Server) -> usize {
    server
        .snapshot()
        .allocs_by_job("default", "web")
        .iter()
        .filter(|a| !a.terminal())
        .count()
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
