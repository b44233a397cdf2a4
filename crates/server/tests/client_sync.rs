//! The client's long-poll on its node's allocations (`Node.GetClientAllocs`): it lists
//! the allocations with their `AllocModifyIndex` (every one, or only those changed past
//! the client's index when none was removed since) and carries in full those changed
//! past the client's index, so that a client fetches nothing else in the usual case. A
//! client's own status reports do not end its long-poll.

use std::sync::Arc;
use std::time::Duration;

use caravan_server::{ManualClock, Server};
use caravan_structs::*;
use caravan_testkit::{self as testkit, server::settle};

const START: i64 = 1_700_000_000_000_000_000;

fn ids<'a>(allocs: impl IntoIterator<Item = &'a Allocation>) -> Vec<String> {
    let mut ids: Vec<String> = allocs.into_iter().map(|a| a.id.to_string()).collect();
    ids.sort();
    ids
}

async fn server_running_web_and_api_on_n1() -> Arc<Server> {
    let clock = Arc::new(ManualClock::new(START));
    let server = testkit::server::start_at(&clock);
    server
        .register_node(testkit::node("n1").build())
        .await
        .unwrap();
    for id in ["web", "api"] {
        let job = testkit::job(id)
            .command("/bin/sleep")
            .resources(10, 10)
            .build();
        server.register_job(job).await.unwrap();
    }
    settle(&server, Duration::from_secs(3)).await;
    server
}

#[tokio::test]
async fn the_long_poll_carries_what_changed_past_the_clients_index() {
    let server = server_running_web_and_api_on_n1().await;
    let wait = Duration::from_millis(200);

    // A client that starts (index 0) receives every allocation, without the placement
    // metrics only the API shows.
    let (first, index) = server
        .get_client_allocs("n1", "secret-n1", 0, wait)
        .await
        .unwrap();
    let placed = server.snapshot().allocs_by_node("n1");
    assert_eq!(first.allocs.len(), 2);
    assert!(!first.incremental);
    assert_eq!(ids(&first.changed), ids(placed.iter().map(|a| &**a)));
    for alloc in &first.changed {
        assert_eq!(first.allocs.get(&alloc.id), Some(&alloc.alloc_modify_index));
        assert!(alloc.job.is_some(), "the client needs the job to run it");
        assert!(alloc.metrics.score_meta_data.is_empty());
    }
    assert!(placed.iter().any(|a| !a.metrics.score_meta_data.is_empty()));

    // Its own report does not end the wait, and carries nothing.
    let web = placed
        .iter()
        .find(|a| a.job_id == "web")
        .unwrap()
        .id
        .clone();
    let running: Vec<AllocClientUpdate> = placed
        .iter()
        .map(|a| AllocClientUpdate {
            id: a.id.clone(),
            client_status: AllocClientStatus::Running,
            ..AllocClientUpdate::default()
        })
        .collect();
    server
        .update_allocations("n1", "secret-n1", running)
        .await
        .unwrap();
    let (quiet, same) = server
        .get_client_allocs("n1", "secret-n1", index, wait)
        .await
        .unwrap();
    assert_eq!(same, index);
    assert!(quiet.changed.is_empty());
    assert!(quiet.incremental && quiet.allocs.is_empty());

    // The servers stop `web`: the answer carries that allocation alone.
    server
        .deregister_job("default", "web", false)
        .await
        .unwrap();
    settle(&server, Duration::from_secs(3)).await;
    let (stopped, next) = server
        .get_client_allocs("n1", "secret-n1", index, wait)
        .await
        .unwrap();
    assert!(next > index);
    assert_eq!(ids(&stopped.changed), vec![web.to_string()]);
    assert_eq!(stopped.changed[0].desired_status, AllocDesiredStatus::Stop);
    // Nothing was removed: the listing names the stopped allocation alone.
    assert!(stopped.incremental);
    assert_eq!(
        stopped.allocs,
        [(web.clone(), stopped.changed[0].alloc_modify_index)].into()
    );

    // Once `web`'s allocation is collected, a client at any earlier index gets the
    // whole listing again, which no longer names it; one past the removal does not.
    server
        .update_allocations(
            "n1",
            "secret-n1",
            vec![AllocClientUpdate {
                id: web.clone(),
                client_status: AllocClientStatus::Complete,
                ..AllocClientUpdate::default()
            }],
        )
        .await
        .unwrap();
    server.collect_garbage(true).await.unwrap();
    assert!(server.snapshot().alloc(&web).is_none());
    for since in [index, next] {
        let (after_gc, removed_at) = server
            .get_client_allocs("n1", "secret-n1", since, wait)
            .await
            .unwrap();
        assert!(removed_at > next);
        assert!(!after_gc.incremental);
        assert_eq!(after_gc.allocs.len(), 1);
        assert!(!after_gc.allocs.contains_key(&web));
    }
    let removed_at = server.snapshot().node_allocs_index("n1");
    let (past_gc, _) = server
        .get_client_allocs("n1", "secret-n1", removed_at, wait)
        .await
        .unwrap();
    assert!(past_gc.incremental && past_gc.allocs.is_empty());
}

#[tokio::test]
async fn a_client_reports_only_its_own_nodes_allocations() {
    let server = server_running_web_and_api_on_n1().await;
    server
        .register_node(testkit::node("n2").build())
        .await
        .unwrap();
    let on_n1 = server.snapshot().allocs_by_node("n1")[0].id.clone();
    let running = |id: &AllocId| AllocClientUpdate {
        id: id.clone(),
        client_status: AllocClientStatus::Running,
        ..AllocClientUpdate::default()
    };

    let refused = server
        .update_allocations("n2", "secret-n2", vec![running(&on_n1)])
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains(&format!("allocation {on_n1} does not run on node n2")),
        "{refused}"
    );
    assert_eq!(
        server.snapshot().alloc(&on_n1).unwrap().client_status,
        AllocClientStatus::Pending
    );

    // One the server does not hold (collected meanwhile) is no one's: nothing to refuse.
    let gone = AllocId::from("00000000-0000-4000-8000-000000000000");
    server
        .update_allocations("n2", "secret-n2", vec![running(&gone)])
        .await
        .unwrap();
    server
        .update_allocations("n1", "secret-n1", vec![running(&on_n1)])
        .await
        .unwrap();
    assert_eq!(
        server.snapshot().alloc(&on_n1).unwrap().client_status,
        AllocClientStatus::Running
    );
}
