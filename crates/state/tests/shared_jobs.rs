//! Allocations of one job version share one `Job` in memory (issue 16: a million
//! allocations must not mean a million copies of their job).

use std::sync::Arc;

use caravan_state::{Command, Snapshot, StateStore};
use caravan_structs::{Allocation, Job};

const COUNT: usize = 50;

fn register(store: &StateStore, job: Job, now: i64) {
    store.apply(Command::JobRegister {
        job,
        eval: None,
        now,
        enforce_index: None,
    });
}

/// A plan's allocations as the replicated log hands them over: each with its own
/// decoded copy of the job.
fn plan_of(stored: &Job, ids: &str, count: usize) -> Command {
    let allocs = (0..count)
        .map(|i| {
            let mut alloc = caravan_testkit::alloc(&format!("{ids}-{i}"), stored, "n1").build();
            alloc.job = Some(Arc::new(Job::clone(stored)));
            alloc
        })
        .collect();
    Command::PlanApply {
        job: None,
        stopped: Vec::new(),
        allocs,
        evals: Vec::new(),
        now: 2,
        deployment: None,
        deployment_updates: Vec::new(),
    }
}

fn jobs_of(snapshot: &Snapshot, prefix: &str) -> Vec<Arc<Job>> {
    snapshot
        .allocs_by_prefix(prefix)
        .iter()
        .map(|a: &Arc<Allocation>| a.job.clone().expect("an allocation carries its job"))
        .collect()
}

fn all_share(jobs: &[Arc<Job>], with: &Arc<Job>) -> bool {
    jobs.iter().all(|j| Arc::ptr_eq(j, with))
}

fn store_with_two_plans() -> StateStore {
    let store = StateStore::new();
    register(
        &store,
        caravan_testkit::job("web")
            .count(2 * COUNT as i64)
            .canonical(),
        1,
    );
    let version = store.snapshot().job_versions("default", "web")[0].clone();
    store.apply(plan_of(&version, "first", COUNT));
    let version = store.snapshot().job_versions("default", "web")[0].clone();
    store.apply(plan_of(&version, "second", COUNT));
    store
}

#[test]
fn allocations_of_one_plan_share_the_stored_job_version() {
    let store = StateStore::new();
    register(
        &store,
        caravan_testkit::job("web").count(COUNT as i64).canonical(),
        1,
    );
    let version = store.snapshot().job_versions("default", "web")[0].clone();
    store.apply(plan_of(&version, "first", COUNT));
    let jobs = jobs_of(&store.snapshot(), "first");
    assert_eq!(jobs.len(), COUNT);
    assert!(
        all_share(&jobs, &version),
        "each allocation kept its own copy"
    );

    // Once the job's status settled, a later plan shares what the table holds now.
    let current = store.snapshot().job_versions("default", "web")[0].clone();
    store.apply(plan_of(&current, "second", COUNT));
    let snapshot = store.snapshot();
    let jobs = jobs_of(&snapshot, "second");
    assert!(all_share(
        &jobs,
        &snapshot.job_versions("default", "web")[0]
    ));
    assert!(all_share(&jobs, &snapshot.job("default", "web").unwrap()));
}

#[test]
fn a_restored_snapshot_shares_one_job_per_plan_and_equals_the_saved_state() {
    let saved = store_with_two_plans().snapshot();
    let bytes = rmp_serde::to_vec_named(&*saved).unwrap();

    let installed = StateStore::new();
    installed.restore(rmp_serde::from_slice(&bytes).unwrap());
    let restored = StateStore::new();
    restored.apply(Command::RestoreSnapshot {
        state: Box::new(rmp_serde::from_slice(&bytes).unwrap()),
    });
    for (store, replayed) in [(installed, false), (restored, true)] {
        let snapshot = store.snapshot();
        if !replayed {
            assert!(*snapshot == *saved, "the restored state differs");
        }
        let version = snapshot.job_versions("default", "web")[0].clone();
        assert!(Arc::ptr_eq(
            &snapshot.job("default", "web").unwrap(),
            &version
        ));
        // The second plan came after the job's status settled: it shares the version.
        assert!(all_share(&jobs_of(&snapshot, "second"), &version));
        // The first holds the version as it was then, decoded once for all of them.
        let first = jobs_of(&snapshot, "first");
        assert_eq!(first.len(), COUNT);
        assert!(
            all_share(&first, &first[0]),
            "allocations decoded apart stay apart"
        );
    }
}

#[test]
fn shared_jobs_render_the_same_allocation_json() {
    let snapshot = store_with_two_plans().snapshot();
    let alloc = snapshot.allocs_by_prefix("first-0")[0].clone();
    let json = serde_json::to_value(&*alloc).unwrap();
    assert_eq!(json["Job"]["ID"], "web");
    assert_eq!(json["Job"]["TaskGroups"][0]["Count"], 2 * COUNT as i64);
    let back: Allocation = serde_json::from_value(json).unwrap();
    assert_eq!(back, *alloc);
}
