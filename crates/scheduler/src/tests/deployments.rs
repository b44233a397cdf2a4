//! Deployments in the reconciler, as Nomad's `reconcile_test` checks them: what a plan
//! places, stops and replaces for a job version rolling out under its `update` block,
//! given the allocations and the latest deployment.

use super::*;

/// A service job `web` (group `example`, task `echo`) at `version` with `count`
/// allocations, `max_parallel` and `canary` (0 for none); `env` stands for the task's
/// definition: a different value is a destructive change.
fn web(version: u64, count: i64, max_parallel: i64, canary: i64, env: &str) -> Job {
    let mut job = batch_job(count);
    job.id = "web".into();
    job.r#type = Some(JobType::Service);
    job.version = version;
    job.create_index = 10;
    job.task_groups[0].update = Some(UpdateStrategy {
        max_parallel: Some(max_parallel),
        canary: Some(canary),
        ..UpdateStrategy::nomad_default()
    });
    job.task_groups[0].tasks[0]
        .env
        .insert("VERSION".into(), env.into());
    job
}

/// A running allocation of `job` at index `index`, in deployment `deployment` (empty:
/// none), judged healthy or not yet (`None`), a canary or not.
fn alloc(
    job: &Job,
    index: u64,
    deployment: &str,
    healthy: Option<bool>,
    canary: bool,
) -> Arc<Allocation> {
    let mut alloc = Allocation::clone(&existing(
        job,
        &format!("v{}-{index}{}", job.version, if canary { "c" } else { "" }),
        "n1",
        index,
        AllocClientStatus::Running,
    ));
    alloc.name = format!("web.example[{index}]");
    alloc.deployment_id = deployment.into();
    alloc.deployment_status = (healthy.is_some() || canary).then(|| AllocDeploymentStatus {
        healthy,
        canary,
        ..AllocDeploymentStatus::default()
    });
    Arc::new(alloc)
}

/// Deployment `id` of `job`'s version, for group `example`.
fn deployment(id: &str, job: &Job, status: &str, state: DeploymentState) -> Arc<Deployment> {
    Arc::new(Deployment {
        id: id.into(),
        namespace: "default".into(),
        job_id: job.id.clone(),
        job_version: job.version,
        job_create_index: job.create_index,
        status: status.into(),
        task_groups: BTreeMap::from([("example".to_string(), state)]),
        ..Deployment::default()
    })
}

fn group(
    desired_total: i64,
    healthy: i64,
    desired_canaries: i64,
    promoted: bool,
) -> DeploymentState {
    DeploymentState {
        desired_total,
        healthy_allocs: healthy,
        desired_canaries,
        promoted,
        ..DeploymentState::default()
    }
}

fn with(job: Job, allocs: Vec<Arc<Allocation>>, deployment: Option<Arc<Deployment>>) -> TestState {
    let mut state = on_cluster(job, allocs);
    state.deployment = deployment;
    state
}

/// What a plan does, in a form a table can state.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// New allocations: (index, canary), in index order.
    placed: Vec<(u64, bool)>,
    /// Allocations stopped, by ID, with why.
    stopped: Vec<(String, String)>,
    /// The deployment the plan creates: (desired total, desired canaries).
    created: Option<(i64, i64)>,
    /// Deployment status changes: (deployment, status, description).
    updates: Vec<(String, String, String)>,
}

fn outcome(plan: &Plan) -> Outcome {
    let mut placed: Vec<(u64, bool)> = placements(plan)
        .filter(|a| a.create_index == 0 && a.client_status == AllocClientStatus::Pending)
        .map(|a| (a.index(), a.is_canary()))
        .collect();
    placed.sort();
    let mut stopped: Vec<(String, String)> = stops(plan)
        .map(|a| (a.id.to_string(), a.desired_description.clone()))
        .collect();
    stopped.sort();
    Outcome {
        placed,
        stopped,
        created: plan.deployment.as_ref().map(|d| {
            let g = &d.task_groups["example"];
            (g.desired_total, g.desired_canaries)
        }),
        updates: plan
            .deployment_updates
            .iter()
            .map(|u| {
                (
                    u.deployment_id.to_string(),
                    u.status.clone(),
                    u.status_description.clone(),
                )
            })
            .collect(),
    }
}

fn stop(id: &str, why: &str) -> (String, String) {
    (id.to_string(), why.to_string())
}

#[test]
fn rollouts_step_by_step() {
    let v0 = web(0, 4, 1, 0, "1");
    let v1 = web(1, 4, 1, 0, "2");
    let v1_two = web(1, 4, 2, 0, "2");
    let v1_canary = web(1, 4, 1, 1, "2");
    let old = |job: &Job| -> Vec<Arc<Allocation>> {
        (0..4)
            .map(|i| alloc(job, i, "d0", Some(true), false))
            .collect()
    };
    let updating = crate::reconcile::ALLOC_UPDATING;
    let not_needed = crate::reconcile::ALLOC_NOT_NEEDED;
    let cases: Vec<(&str, TestState, Outcome)> = vec![
        (
            "a first run places everything under a new deployment",
            with(v0.clone(), vec![], None),
            Outcome {
                placed: vec![(0, false), (1, false), (2, false), (3, false)],
                stopped: vec![],
                created: Some((4, 0)),
                updates: vec![],
            },
        ),
        (
            "a new version replaces max_parallel (1) at first",
            with(v1.clone(), old(&v0), None),
            Outcome {
                placed: vec![(0, false)],
                stopped: vec![stop("v0-0", updating)],
                created: Some((4, 0)),
                updates: vec![],
            },
        ),
        (
            "and max_parallel (2) when it says 2",
            with(v1_two.clone(), old(&v0), None),
            Outcome {
                placed: vec![(0, false), (1, false)],
                stopped: vec![stop("v0-0", updating), stop("v0-1", updating)],
                created: Some((4, 0)),
                updates: vec![],
            },
        ),
        (
            "nothing more while the replacement is not yet healthy",
            with(
                v1.clone(),
                {
                    let mut allocs = old(&v0)[1..].to_vec();
                    allocs.push(alloc(&v1, 0, "d1", None, false));
                    allocs
                },
                Some(deployment("d1", &v1, "running", group(4, 0, 0, false))),
            ),
            Outcome {
                placed: vec![],
                stopped: vec![],
                created: None,
                updates: vec![],
            },
        ),
        (
            "the next one once it is healthy",
            with(
                v1.clone(),
                {
                    let mut allocs = old(&v0)[1..].to_vec();
                    allocs.push(alloc(&v1, 0, "d1", Some(true), false));
                    allocs
                },
                Some(deployment("d1", &v1, "running", group(4, 1, 0, false))),
            ),
            Outcome {
                placed: vec![(1, false)],
                stopped: vec![stop("v0-1", updating)],
                created: None,
                updates: vec![],
            },
        ),
        (
            "nothing while the deployment is paused",
            with(
                v1.clone(),
                {
                    let mut allocs = old(&v0)[1..].to_vec();
                    allocs.push(alloc(&v1, 0, "d1", Some(true), false));
                    allocs
                },
                Some(deployment("d1", &v1, "paused", group(4, 1, 0, false))),
            ),
            Outcome {
                placed: vec![],
                stopped: vec![],
                created: None,
                updates: vec![],
            },
        ),
        (
            "nor once it failed (and no new deployment for the version)",
            with(
                v1.clone(),
                {
                    let mut allocs = old(&v0)[1..].to_vec();
                    allocs.push(alloc(&v1, 0, "d1", Some(false), false));
                    allocs
                },
                Some(deployment("d1", &v1, "failed", group(4, 0, 0, false))),
            ),
            Outcome {
                placed: vec![],
                stopped: vec![],
                created: None,
                updates: vec![],
            },
        ),
        (
            "all healthy: the deployment is successful",
            with(
                v1.clone(),
                (0..4)
                    .map(|i| alloc(&v1, i, "d1", Some(true), false))
                    .collect(),
                Some(deployment("d1", &v1, "running", group(4, 4, 0, false))),
            ),
            Outcome {
                placed: vec![],
                stopped: vec![],
                created: None,
                updates: vec![(
                    "d1".into(),
                    "successful".into(),
                    "Deployment completed successfully".into(),
                )],
            },
        ),
        (
            "a canary is placed beside the old allocations, named after the first",
            with(v1_canary.clone(), old(&v0), None),
            Outcome {
                placed: vec![(0, true)],
                stopped: vec![],
                created: Some((4, 1)),
                updates: vec![],
            },
        ),
        (
            "then nothing until it is promoted",
            with(
                v1_canary.clone(),
                {
                    let mut allocs = old(&v0);
                    allocs.push(alloc(&v1_canary, 0, "d1", Some(true), true));
                    allocs
                },
                Some(deployment(
                    "d1",
                    &v1_canary,
                    "running",
                    group(4, 1, 1, false),
                )),
            ),
            Outcome {
                placed: vec![],
                stopped: vec![],
                created: None,
                updates: vec![],
            },
        ),
        (
            "once promoted, the canary takes its old allocation's place and the rest roll",
            with(
                v1_canary.clone(),
                {
                    let mut allocs = old(&v0);
                    allocs.push(alloc(&v1_canary, 0, "d1", Some(true), true));
                    allocs
                },
                Some(deployment(
                    "d1",
                    &v1_canary,
                    "running",
                    group(4, 1, 1, true),
                )),
            ),
            Outcome {
                placed: vec![(1, false)],
                stopped: vec![stop("v0-0", not_needed), stop("v0-1", updating)],
                created: None,
                updates: vec![],
            },
        ),
        (
            "a newer version cancels the running deployment and stops its canaries",
            with(
                web(2, 4, 1, 1, "3"),
                {
                    let mut allocs = old(&v0);
                    allocs.push(alloc(&v1_canary, 0, "d1", Some(true), true));
                    allocs
                },
                Some(deployment(
                    "d1",
                    &v1_canary,
                    "running",
                    group(4, 1, 1, false),
                )),
            ),
            Outcome {
                placed: vec![(0, true)],
                stopped: vec![stop("v1-0c", crate::reconcile::ALLOC_CANARY_NOT_NEEDED)],
                created: Some((4, 1)),
                updates: vec![(
                    "d1".into(),
                    "cancelled".into(),
                    "Cancelled due to newer version of job".into(),
                )],
            },
        ),
    ];
    for (name, state, want) in cases {
        assert_eq!(outcome(&run(&state)), want, "{name}");
    }
}

#[test]
fn a_stopped_job_cancels_its_deployment() {
    let mut job = web(1, 2, 1, 0, "2");
    let allocs = (0..2).map(|i| alloc(&job, i, "d1", None, false)).collect();
    let running = deployment("d1", &job, "running", group(2, 0, 0, false));
    job.stop = true;
    let plan = run(&with(job, allocs, Some(running)));
    assert_eq!(
        outcome(&plan).updates,
        vec![(
            "d1".into(),
            "cancelled".into(),
            "Cancelled because job is stopped".into()
        )]
    );
    assert_eq!(stops(&plan).count(), 2);
}

#[test]
fn placements_join_the_deployment_and_in_place_updates_are_judged_again() {
    // A first run: every placement carries the new deployment's ID.
    let v0 = web(0, 2, 1, 0, "1");
    let plan = run(&with(v0.clone(), vec![], None));
    let created = plan.deployment.as_ref().expect("a deployment");
    assert_eq!(created.status, "running");
    assert_eq!(created.status_description, "Deployment is running");
    assert!(placements(&plan).all(|a| a.deployment_id == created.id));

    // A new version that needs no restart (the count changes): the allocations are
    // updated in place into a new deployment, their health to be judged again.
    let mut v1 = v0.clone();
    v1.version = 1;
    v1.priority = 70;
    let allocs = (0..2)
        .map(|i| alloc(&v0, i, "d0", Some(true), false))
        .collect();
    let plan = run(&with(v1, allocs, None));
    let created = plan
        .deployment
        .as_ref()
        .expect("a deployment for the new version");
    let updated: Vec<&Allocation> = placements(&plan).collect();
    assert_eq!(updated.len(), 2);
    assert!(
        updated
            .iter()
            .all(|a| a.deployment_id == created.id && a.deployment_status.is_none())
    );
    assert_eq!(stops(&plan).count(), 0);
}

#[test]
fn batch_jobs_and_groups_without_max_parallel_have_no_deployments() {
    let plan = run(&on_cluster(batch_job(2), vec![]));
    assert!(plan.deployment.is_none());
    assert!(placements(&plan).all(|a| a.deployment_id.is_empty()));

    let v0 = web(0, 3, 0, 0, "1");
    let v1 = web(1, 3, 0, 0, "2");
    let old = (0..3).map(|i| alloc(&v0, i, "", None, false)).collect();
    let plan = run(&with(v1, old, None));
    assert!(plan.deployment.is_none());
    assert_eq!(stops(&plan).count(), 3, "all replaced at once");
    assert_eq!(placements(&plan).count(), 3);
}
