//! System jobs through the server: one allocation on every node, and one more on each
//! node that joins or becomes eligible.

use std::time::Duration;

use caravan_server::{Server, ServerConfig};
use caravan_structs::*;
use caravan_testkit::{self as testkit, wait};

fn node(id: &str) -> Node {
    testkit::node(id).build()
}

fn system_job() -> Job {
    testkit::job("node-agent")
        .kind(JobType::System)
        .command("/bin/sleep")
        .build()
}

async fn eventually(what: &str, check: impl FnMut() -> bool) {
    wait::until(what, Duration::from_secs(3), check).await;
}

fn nodes_running(server: &Server) -> Vec<String> {
    let mut nodes: Vec<String> = server
        .snapshot()
        .allocs_by_job("default", "node-agent")
        .iter()
        .filter(|a| !a.terminal())
        .map(|a| a.node_id.to_string())
        .collect();
    nodes.sort();
    nodes
}

#[tokio::test]
async fn a_system_job_runs_on_every_node_including_the_ones_that_join_later() {
    let server = Server::start(ServerConfig::default());
    for id in ["n1", "n2"] {
        server.register_node(node(id)).await.unwrap();
    }
    server.register_job(system_job()).await.unwrap();
    eventually("one allocation per node", || {
        nodes_running(&server) == ["n1", "n2"]
    })
    .await;
    server.register_node(node("n3")).await.unwrap();
    eventually("the new node's allocation", || {
        nodes_running(&server) == ["n1", "n2", "n3"]
    })
    .await;
    // An ineligible node keeps what it runs; made eligible again it is evaluated again.
    server.set_eligibility("n3", false).await.unwrap();
    server.register_node(node("n4")).await.unwrap();
    server.set_eligibility("n4", false).await.unwrap();
    eventually("n4's first allocation", || {
        nodes_running(&server).len() >= 3
    })
    .await;
    server.set_eligibility("n4", true).await.unwrap();
    eventually("n4's allocation", || {
        nodes_running(&server) == ["n1", "n2", "n3", "n4"]
    })
    .await;
    // A second registration of the same job changes nothing.
    let before = server
        .snapshot()
        .allocs_by_job("default", "node-agent")
        .len();
    server.register_job(system_job()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        server
            .snapshot()
            .allocs_by_job("default", "node-agent")
            .len(),
        before
    );
}

#[test]
fn a_system_job_with_a_count_above_one_is_refused() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = Server::start(ServerConfig::default());
        let mut job = system_job();
        job.task_groups[0].count = 3;
        let error = server.register_job(job).await.unwrap_err().to_string();
        assert!(
            error.contains("Count cannot exceed 1 with system scheduler"),
            "{error}"
        );
    });
}
