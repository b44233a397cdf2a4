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
