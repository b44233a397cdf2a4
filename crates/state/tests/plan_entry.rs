//! A committed plan as the replicated log carries it (issue 16): the job once, stops as
//! what they change, and the same state once applied as the allocations in full gave.

use std::sync::Arc;

use caravan_state::{AllocStopped, Command, StateStore};
use caravan_structs::{AllocClientStatus, AllocDesiredStatus, Allocation, Job};

const COUNT: usize = 1000;
/// A job field no allocation field holds, to count the job's copies in an entry.
const MARKER: &str = "only-in-the-job-3f9c1e";

fn store_with_job() -> (StateStore, Arc<Job>) {
    let store = StateStore::new();
    store.apply(Command::JobRegister {
        job: caravan_testkit::job("web")
            .count(COUNT as i64)
            .meta("marker", MARKER)
            .canonical(),
        eval: None,
        now: 1,
        enforce_index: None,
    });
    let version = store.snapshot().job_versions("default", "web")[0].clone();
    (store, version)
}

/// Placements as the scheduler makes them: every one holds the job it read.
fn placements(job: &Arc<Job>, prefix: &str, count: usize) -> Vec<Allocation> {
    (0..count)
        .map(|i| {
            let node = format!("n{}", i % 10);
            let mut alloc = caravan_testkit::alloc(&format!("{prefix}-{i:04}"), job, &node).build();
            alloc.job = Some(Arc::clone(job));
            alloc
        })
        .collect()
}

fn plan(stops: &[Allocation], placed: Vec<Allocation>) -> Command {
    Command::plan_apply(stops, placed, Vec::new(), 2, None, Vec::new())
}

/// The same plan as it was written before it was normalized: every allocation whole.
fn plan_in_full(stops: &[Allocation], placed: Vec<Allocation>) -> Command {
    let mut allocs = stops.to_vec();
    allocs.extend(placed);
    Command::PlanApply {
        job: None,
        allocs,
        stopped: Vec::new(),
        evals: Vec::new(),
        now: 2,
        deployment: None,
        deployment_updates: Vec::new(),
    }
}

fn copies_of_marker(bytes: &[u8]) -> usize {
    bytes
        .windows(MARKER.len())
        .filter(|w| *w == MARKER.as_bytes())
        .count()
}

#[test]
fn a_count_1000_plans_log_entry_carries_its_job_once() {
    let (_, job) = store_with_job();
    let normalized = rmp_serde::to_vec_named(&plan(&[], placements(&job, "a", COUNT))).unwrap();
    let in_full =
        rmp_serde::to_vec_named(&plan_in_full(&[], placements(&job, "a", COUNT))).unwrap();
    assert_eq!(copies_of_marker(&normalized), 1);
    assert_eq!(copies_of_marker(&in_full), COUNT);
    eprintln!(
        "count = {COUNT} plan entry: {} bytes normalized, {} bytes with a job per allocation",
        normalized.len(),
        in_full.len()
    );
}

#[test]
fn stopped_allocations_travel_as_id_and_desired_state() {
    let (store, job) = store_with_job();
    store.apply(plan(&[], placements(&job, "a", 10)));
    let snapshot = store.snapshot();
    let mut stop = Allocation::clone(&snapshot.allocs_by_prefix("a-0001")[0]);
    stop.desired_status = AllocDesiredStatus::Stop;
    stop.desired_description = "alloc not needed due to job update".to_string();
    let mut lost = Allocation::clone(&snapshot.allocs_by_prefix("a-0002")[0]);
    lost.desired_status = AllocDesiredStatus::Stop;
    lost.client_status = AllocClientStatus::Lost;
    lost.client_description = "alloc is lost since its node is down".to_string();

    let Command::PlanApply { stopped, job, .. } = plan(&[stop, lost], Vec::new()) else {
        panic!("a plan is a PlanApply");
    };
    assert!(job.is_none(), "nothing placed: no job to carry");
    assert_eq!(
        stopped,
        vec![
            AllocStopped {
                id: "a-0001".into(),
                desired_status: AllocDesiredStatus::Stop,
                desired_description: "alloc not needed due to job update".to_string(),
                lost: None,
            },
            AllocStopped {
                id: "a-0002".into(),
                desired_status: AllocDesiredStatus::Stop,
                desired_description: String::new(),
                lost: Some("alloc is lost since its node is down".to_string()),
            },
        ]
    );
}

#[test]
fn a_decoded_plan_applies_as_the_plan_in_full_and_links_the_stored_job() {
    let (full, job) = store_with_job();
    let (normalized, _) = store_with_job();
    let first = placements(&job, "a", COUNT);
    full.apply(plan_in_full(&[], first.clone()));
    let bytes = rmp_serde::to_vec_named(&plan(&[], first)).unwrap();
    normalized.apply(rmp_serde::from_slice(&bytes).unwrap());

    // A second plan: stops (one of them lost) and replacements, after a client report.
    let snapshot = full.snapshot();
    let stops: Vec<Allocation> = snapshot
        .allocs_by_prefix("a-000")
        .iter()
        .map(|a| {
            let mut stop = Allocation::clone(a);
            stop.desired_status = AllocDesiredStatus::Stop;
            stop.desired_description = "alloc is being migrated".to_string();
            if a.id.as_str() == "a-0003" {
                stop.client_status = AllocClientStatus::Lost;
                stop.client_description = "alloc is lost since its node is down".to_string();
            }
            stop
        })
        .collect();
    let replacements = placements(&job, "b", stops.len());
    full.apply(plan_in_full(&stops, replacements.clone()));
    let bytes = rmp_serde::to_vec_named(&plan(&stops, replacements)).unwrap();
    normalized.apply(rmp_serde::from_slice(&bytes).unwrap());

    let (full, normalized) = (full.snapshot(), normalized.snapshot());
    assert!(
        *full == *normalized,
        "the normalized plan wrote another state"
    );
    // The first plan's allocations share the version as it was then (its status changed
    // since); those the second plan wrote (stopped or placed) the version as it is now.
    let (untouched, stopped): (Vec<_>, Vec<_>) = normalized
        .allocs_by_prefix("a-")
        .into_iter()
        .partition(|a| a.desired_status == AllocDesiredStatus::Run);
    let then = untouched[0]
        .job
        .clone()
        .expect("an allocation carries its job");
    assert!(all_share(&untouched, &then));
    let version = normalized.job_versions("default", "web")[0].clone();
    assert!(all_share(&stopped, &version));
    assert!(all_share(&normalized.allocs_by_prefix("b-"), &version));
    let lost = &normalized.allocs_by_prefix("a-0003")[0];
    assert_eq!(lost.client_status, AllocClientStatus::Lost);
    assert_eq!(lost.desired_status, AllocDesiredStatus::Stop);
}

#[test]
fn a_stop_of_an_allocation_collected_meanwhile_is_skipped() {
    let (store, job) = store_with_job();
    store.apply(plan(&[], placements(&job, "a", 2)));
    let mut stop = Allocation::clone(&store.snapshot().allocs_by_prefix("a-0000")[0]);
    store.apply(Command::GarbageCollect {
        evals: Vec::new(),
        allocs: vec![stop.id.clone()],
        jobs: Vec::new(),
        nodes: Vec::new(),
        deployments: Vec::new(),
    });
    stop.desired_status = AllocDesiredStatus::Stop;
    store.apply(plan(&[stop], Vec::new()));
    assert!(store.snapshot().allocs_by_prefix("a-0000").is_empty());
    assert_eq!(store.snapshot().allocs_by_prefix("a-").len(), 1);
}

#[test]
fn a_snapshot_holds_one_copy_of_a_job_its_allocations_share() {
    let (store, job) = store_with_job();
    store.apply(plan(&[], placements(&job, "a", COUNT)));
    let saved = store.snapshot();
    let bytes = rmp_serde::to_vec_named(&*saved).unwrap();
    // The job table, the version table and the allocations' one copy.
    assert_eq!(copies_of_marker(&bytes), 3);

    let restored = StateStore::new();
    restored.restore(rmp_serde::from_slice(&bytes).unwrap());
    let snapshot = restored.snapshot();
    assert!(*snapshot == *saved, "the restored state differs");
    let allocs = snapshot.allocs_by_job("default", "web");
    assert_eq!(allocs.len(), COUNT);
    let job = allocs[0]
        .job
        .clone()
        .expect("an allocation carries its job");
    assert!(all_share(&allocs, &job), "decoded apart");
}

fn all_share(allocs: &[Arc<Allocation>], job: &Arc<Job>) -> bool {
    allocs
        .iter()
        .all(|a| a.job.as_ref().is_some_and(|j| Arc::ptr_eq(j, job)))
}
