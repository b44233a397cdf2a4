use std::time::Duration;

use caravan_state::{Command, StateStore};
use caravan_structs::{Job, JobStatus};

fn job(id: &str, count: i64) -> Job {
    caravan_testkit::job(id).count(count).canonical()
}

/// Registers `job` at `now`, without an evaluation.
fn register(job: Job, now: i64) -> Command {
    Command::JobRegister {
        job,
        eval: None,
        now,
        enforce_index: None,
    }
}

/// Waits (up to `wait`) for the jobs table to pass index 1: the job count and the index.
async fn jobs_past_index_1(store: &StateStore, wait: Duration) -> (usize, u64) {
    store
        .blocking_query(1, wait, |snap| {
            (snap.all_jobs().count(), snap.table_index().jobs)
        })
        .await
}

#[test]
fn every_write_gets_the_next_index() {
    let store = StateStore::new();
    assert_eq!(store.apply(register(job("a", 1), 1)), 1);
    assert_eq!(store.apply(register(job("b", 1), 2)), 2);
    assert_eq!(store.snapshot().index, 2);
}

#[test]
fn a_held_snapshot_does_not_see_later_writes() {
    let store = StateStore::new();
    store.apply(register(job("a", 1), 1));
    let before = store.snapshot();
    store.apply(register(job("b", 1), 2));
    assert!(before.job("default", "b").is_none());
    assert!(store.snapshot().job("default", "b").is_some());
}

#[test]
fn changed_job_gets_a_new_version_unchanged_keeps_it() {
    let store = StateStore::new();
    store.apply(register(job("a", 1), 1));
    store.apply(register(job("a", 1), 2));
    assert_eq!(store.snapshot().job("default", "a").unwrap().version, 0);
    store.apply(register(job("a", 3), 3));
    let snap = store.snapshot();
    assert_eq!(snap.job("default", "a").unwrap().version, 1);
    let versions: Vec<u64> = snap
        .job_versions("default", "a")
        .iter()
        .map(|j| j.version)
        .collect();
    assert_eq!(versions, vec![1, 0]);
}

#[test]
fn purge_removes_the_job() {
    let store = StateStore::new();
    store.apply(register(job("a", 1), 1));
    store.apply(Command::JobDeregister {
        namespace: "default".into(),
        job_id: "a".into(),
        purge: false,
        eval: None,
        now: 2,
    });
    let stopped = store.snapshot().job("default", "a").unwrap();
    assert!(stopped.stop);
    assert_eq!(stopped.status, Some(JobStatus::Dead));
    store.apply(Command::JobDeregister {
        namespace: "default".into(),
        job_id: "a".into(),
        purge: true,
        eval: None,
        now: 3,
    });
    assert!(store.snapshot().job("default", "a").is_none());
}

#[tokio::test]
async fn blocking_query_wakes_on_a_write_past_the_index() {
    let store = std::sync::Arc::new(StateStore::new());
    store.apply(register(job("a", 1), 1));
    let writer = store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        writer.apply(register(job("b", 1), 2));
    });
    let (count, index) = jobs_past_index_1(&store, Duration::from_secs(10)).await;
    assert_eq!((count, index), (2, 2));
}

#[tokio::test]
async fn blocking_query_returns_at_the_wait_deadline() {
    let store = StateStore::new();
    store.apply(register(job("a", 1), 1));
    let (count, index) = jobs_past_index_1(&store, Duration::from_millis(30)).await;
    assert_eq!((count, index), (1, 1));
}

/// The listings of a node's and a job's allocations follow each allocation through its
/// placement, its client's report and its stop; the node's modify indexes (what a
/// client's long-poll lists) move only with the server's changes.
#[test]
fn node_and_job_listings_follow_their_allocations() {
    use caravan_structs::{AllocClientStatus, AllocClientUpdate, AllocDesiredStatus, Allocation};

    let store = StateStore::new();
    let web = job("web", 2);
    store.apply(register(web.clone(), 1));
    let alloc = |id: &str| Allocation {
        client_status: AllocClientStatus::Pending,
        ..caravan_testkit::alloc(id, &web, "node-1").build()
    };
    let placed = store.apply(Command::plan_apply(
        &[],
        vec![alloc("a1"), alloc("a2")],
        Vec::new(),
        2,
        None,
        Vec::new(),
    ));
    let indexes = |store: &StateStore| -> Vec<(String, u64)> {
        let snapshot = store.snapshot();
        snapshot
            .node_alloc_indexes("node-1")
            .map(|(id, index)| (id.to_string(), index))
            .collect()
    };
    let statuses = |allocs: Vec<std::sync::Arc<Allocation>>| -> Vec<(String, AllocClientStatus)> {
        allocs
            .iter()
            .map(|a| (a.id.to_string(), a.client_status))
            .collect()
    };
    let both_placed = vec![("a1".to_string(), placed), ("a2".to_string(), placed)];
    assert_eq!(indexes(&store), both_placed);

    store.apply(Command::AllocClientUpdate {
        updates: vec![AllocClientUpdate {
            id: "a1".into(),
            client_status: AllocClientStatus::Running,
            ..AllocClientUpdate::default()
        }],
        now: 3,
        evals: Vec::new(),
    });
    // The report is what both listings show; the long-poll's indexes stay.
    let snapshot = store.snapshot();
    let expected = vec![
        ("a1".to_string(), AllocClientStatus::Running),
        ("a2".to_string(), AllocClientStatus::Pending),
    ];
    assert_eq!(statuses(snapshot.allocs_by_node("node-1")), expected);
    assert_eq!(statuses(snapshot.allocs_by_job("default", "web")), expected);
    assert_eq!(indexes(&store), both_placed);

    let mut stop = Allocation::clone(&snapshot.alloc("a2").unwrap());
    stop.desired_status = AllocDesiredStatus::Stop;
    let stopped = store.apply(Command::plan_apply(
        &[stop],
        Vec::new(),
        Vec::new(),
        4,
        None,
        Vec::new(),
    ));
    assert_eq!(
        indexes(&store),
        vec![("a1".to_string(), placed), ("a2".to_string(), stopped)]
    );
    let snapshot = store.snapshot();
    let desired: Vec<AllocDesiredStatus> = snapshot
        .allocs_by_job("default", "web")
        .iter()
        .map(|a| a.desired_status)
        .collect();
    assert_eq!(desired, [AllocDesiredStatus::Run, AllocDesiredStatus::Stop]);
    assert!(snapshot.allocs_by_node("node-2").is_empty());
}
