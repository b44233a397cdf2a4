//! The system and sysbatch schedulers: one allocation per eligible node.

use super::*;

fn system_job(kind: JobType) -> Job {
    let mut job = batch_job(1);
    job.id = "node-agent".into();
    job.r#type = Some(kind);
    job
}

fn placed(plan: &Plan) -> Vec<(String, String)> {
    let mut placed: Vec<(String, String)> = plan
        .node_allocation
        .values()
        .flatten()
        // New allocations get the test's IDs; in-place updates keep theirs.
        .filter(|a| a.id.starts_with("alloc-"))
        .map(|a| (a.node_id.to_string(), a.name.clone()))
        .collect();
    placed.sort();
    placed
}

fn on(job: &Job, id: &str, node: &str, status: &str) -> Arc<Allocation> {
    let status = status.parse().expect("a client status");
    existing(job, id, node, 0, status)
}

#[test]
fn one_allocation_on_every_eligible_node() {
    for kind in [JobType::System, JobType::Sysbatch] {
        let state = TestState {
            deployment: None,
            job: Some(Arc::new(system_job(kind))),
            nodes: cluster(),
            ..TestState::default()
        };
        let plan = run(&state);
        assert_eq!(
            placed(&plan),
            ["n1", "n2", "n3"].map(|n| (n.to_string(), "node-agent.example[0]".to_string())),
            "{kind}"
        );
        assert!(plan.failed_tg_allocs.is_empty());
    }
}

#[test]
fn nodes_the_constraints_rule_out_are_skipped_and_full_ones_fail() {
    let mut job = system_job(JobType::System);
    job.constraints.push(Constraint {
        l_target: "${meta.Name}".into(),
        operand: "!=".into(),
        r_target: "client-3".into(),
    });
    job.task_groups[0].tasks[0].resources.memory_mb = 20_000;
    let mut nodes = cluster();
    // client-2 already runs something big.
    let big = {
        let mut other = batch_job(1);
        other.id = "big".into();
        let alloc = existing(&other, "big-1", "n2", 0, AllocClientStatus::Running);
        let mut alloc = Allocation::clone(&alloc);
        alloc.allocated_resources.tasks.insert(
            "echo",
            AllocatedTaskResources {
                memory: MemoryResources {
                    memory_mb: 10_000,
                    memory_max_mb: 0,
                },
                ..Default::default()
            },
        );
        Arc::new(alloc)
    };
    nodes.truncate(3);
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes,
        allocs: vec![big],
    };
    let plan = run(&state);
    assert_eq!(
        placed(&plan),
        [("n1".to_string(), "node-agent.example[0]".to_string())]
    );
    let failed = &plan.failed_tg_allocs["example"];
    assert_eq!(failed.dimension_exhausted["memory"], 1);
    assert_eq!(plan.queued_allocations["example"], 1);
}

#[test]
fn a_new_node_gets_its_allocation_and_the_others_are_left_alone() {
    let job = system_job(JobType::System);
    let allocs = vec![
        on(&job, "a1", "n1", "running"),
        on(&job, "a2", "n2", "running"),
    ];
    let state = on_cluster(job, allocs);
    let plan = run(&state);
    assert_eq!(
        placed(&plan),
        [("n3".to_string(), "node-agent.example[0]".to_string())]
    );
    assert!(plan.node_update.is_empty());
}

#[test]
fn a_down_node_loses_its_allocation_without_a_replacement() {
    let job = system_job(JobType::System);
    let allocs = (1..=3)
        .map(|n| on(&job, &format!("a{n}"), &format!("n{n}"), "running"))
        .collect();
    let mut nodes = cluster();
    Arc::make_mut(&mut nodes[2]).status = NodeStatus::Down;
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes,
        allocs,
    };
    let plan = run(&state);
    assert!(placed(&plan).is_empty());
    let lost: Vec<(&str, &str)> = stops(&plan)
        .map(|a| (a.id.as_str(), a.client_status.as_str()))
        .collect();
    assert_eq!(lost, [("a3", "lost")]);
}

#[test]
fn sysbatch_work_that_completed_is_not_run_again_until_a_new_version() {
    let mut job = system_job(JobType::Sysbatch);
    let allocs: Vec<_> = (1..=3)
        .map(|n| on(&job, &format!("a{n}"), &format!("n{n}"), "complete"))
        .collect();
    let state = on_cluster(job.clone(), allocs.clone());
    assert!(placed(&run(&state)).is_empty());
    job.version = 1;
    job.task_groups[0].tasks[0]
        .config
        .insert("args".into(), serde_json::json!(["v2"]));
    let state = on_cluster(job, allocs);
    let plan = run(&state);
    assert_eq!(placed(&plan).len(), 3);
    assert!(
        plan.node_allocation
            .values()
            .flatten()
            .all(|a| ["a1", "a2", "a3"].contains(&a.previous_allocation.as_str()))
    );
}

#[test]
fn a_changed_system_job_replaces_each_allocation_on_its_node_and_a_stopped_one_stops_all() {
    let mut job = system_job(JobType::System);
    let allocs: Vec<_> = (1..=3)
        .map(|n| on(&job, &format!("a{n}"), &format!("n{n}"), "running"))
        .collect();
    job.version = 1;
    job.task_groups[0].tasks[0].resources.memory_mb = 400;
    let state = on_cluster(job.clone(), allocs.clone());
    let plan = run(&state);
    let stops: Vec<&str> = stops(&plan).map(|a| a.id.as_str()).collect();
    assert_eq!(stops.len(), 3);
    let replaced: BTreeMap<AllocId, NodeId> = placements(&plan)
        .map(|a| (a.previous_allocation.clone(), a.node_id.clone()))
        .collect();
    assert_eq!(replaced["a1"], "n1");
    assert_eq!(replaced["a3"], "n3");
    job.stop = true;
    let state = on_cluster(job, allocs);
    let plan = run(&state);
    assert_eq!(plan.node_update.values().flatten().count(), 3);
    assert!(plan.node_allocation.is_empty());
}
