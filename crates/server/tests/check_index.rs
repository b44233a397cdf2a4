//! `job run -check-index` checked in the same write as the registration: of several
//! concurrent updates planned against the same version, exactly one lands.

use std::sync::Arc;

use caravan_server::{Server, ServerConfig};
use caravan_structs::*;
use caravan_testkit as testkit;

fn job(meta: &str) -> Job {
    testkit::job("web")
        .meta("version", meta)
        .count(0)
        .command("/bin/true")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_check_index_updates_let_exactly_one_through() {
    let server = Server::start(ServerConfig::default());
    let planned = server
        .register_job(job("v0"))
        .await
        .unwrap()
        .job_modify_index;
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                server
                    .register_job_enforcing(job(&format!("v{}", i + 1)), Some(planned))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for attempt in attempts {
        results.push(attempt.await.unwrap());
    }
    let landed = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(landed, 1, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            refused
                .to_string()
                .contains("job exists with conflicting job modify index"),
            "{refused}"
        );
    }
    assert_eq!(server.snapshot().job("default", "web").unwrap().version, 1);
    // 0 means "must not exist yet".
    let error = server
        .register_job_enforcing(job("v9"), Some(0))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("Enforcing job modify index 0"), "{error}");
}

#[tokio::test]
async fn the_update_rules_are_checked_by_the_store() {
    let server = Server::start(ServerConfig::default());
    server.register_job(job("v0")).await.unwrap();
    let mut batch = job("v1");
    batch.r#type = Some(JobType::Batch);
    let error = server.register_job(batch).await.unwrap_err().to_string();
    assert!(
        error.contains("cannot update job from type \"service\" to \"batch\""),
        "{error}"
    );
}
