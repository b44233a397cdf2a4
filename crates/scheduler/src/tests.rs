//! Table tests: a state is built from plain vectors, one evaluation runs, the plan is checked.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_structs::*;
use caravan_testkit as testkit;

use crate::{SchedulerAlgorithm, SchedulerContext, schedule};

mod coalescing;
mod deployments;
mod host_volumes;
mod operators;
mod ports;
mod properties;
mod ranking;
mod reschedule;
mod system;

/// The table tests' state: a job, its allocations and the nodes.
type TestState = crate::testing::MemState;

fn node(id: &str, name: &str, raw_exec: bool) -> Arc<Node> {
    testkit::node(id)
        .secret("")
        .name(name)
        .ready()
        .attribute("os.name", "debian")
        .meta("Name", name)
        .cpu(4890)
        .memory(24000)
        .disk(100_000)
        .driver(
            "raw_exec",
            DriverInfo {
                detected: raw_exec,
                healthy: raw_exec,
                ..DriverInfo::default()
            },
        )
        .arc()
}

fn cluster() -> Vec<Arc<Node>> {
    vec![
        node("n1", "client-1", true),
        node("n2", "client-2", true),
        node("n3", "client-3", true),
    ]
}

fn batch_job(count: i64) -> Job {
    testkit::job("hello-exec-batch")
        .kind(JobType::Batch)
        .datacenters(&["dc1"])
        .group_name("example")
        .count(count)
        .task_name("echo")
        .resources(500, 300)
        .canonical()
}

/// The three-node cluster with `job` and its allocations.
fn on_cluster(job: Job, allocs: Vec<Arc<Allocation>>) -> TestState {
    TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: cluster(),
        allocs,
    }
}

fn spread(percents: [i64; 3]) -> Spread {
    let [one, two, three] = percents;
    testkit::spread(
        "${meta.Name}",
        50,
        &[("client-1", one), ("client-2", two), ("client-3", three)],
    )
}

fn run(state: &TestState) -> Plan {
    run_with(state, SchedulerAlgorithm::BinPack)
}

fn run_with(state: &TestState, algorithm: SchedulerAlgorithm) -> Plan {
    let job = state
        .job
        .as_ref()
        .map(|j| j.id.clone())
        .unwrap_or_else(|| "hello-exec-batch".into());
    let eval = Evaluation {
        id: "eval-1".into(),
        namespace: "default".into(),
        job_id: job,
        priority: 50,
        ..Evaluation::default()
    };
    let mut next = 0;
    let mut new_id = || {
        next += 1;
        format!("alloc-{next:02}")
    };
    schedule(
        state,
        &eval,
        &mut SchedulerContext::new(1, &mut new_id).with_algorithm(algorithm),
    )
}

/// Every new or updated allocation of the plan.
fn placements(plan: &Plan) -> impl Iterator<Item = &Allocation> {
    plan.node_allocation.values().flatten()
}

/// Every allocation the plan stops.
fn stops(plan: &Plan) -> impl Iterator<Item = &Allocation> {
    plan.node_update.values().flatten()
}

/// The plan's first placement.
fn first_placed(plan: &Plan) -> &Allocation {
    placements(plan).next().unwrap()
}

fn placed_per_node(plan: &Plan) -> BTreeMap<String, usize> {
    plan.node_allocation
        .iter()
        .map(|(n, a)| (n.to_string(), a.len()))
        .filter(|(_, c)| *c > 0)
        .collect()
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

#[test]
fn places_count_allocations_named_by_index() {
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(batch_job(3))),
        nodes: cluster(),
        ..TestState::default()
    };
    let plan = run(&state);
    let mut names: Vec<String> = placements(&plan).map(|a| a.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "hello-exec-batch.example[0]",
            "hello-exec-batch.example[1]",
            "hello-exec-batch.example[2]"
        ]
    );
    assert!(plan.failed_tg_allocs.is_empty());
}

#[test]
fn raw_exec_goes_only_to_nodes_that_enabled_it() {
    let nodes = vec![
        node("n1", "client-1", true),
        node("n2", "client-2", false),
        node("n3", "client-3", false),
    ];
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(batch_job(1))),
        nodes,
        ..TestState::default()
    };
    let plan = run(&state);
    assert_eq!(placed_per_node(&plan), counts(&[("n1", 1)]));
    let metric = &plan.node_allocation["n1"][0].metrics;
    assert_eq!(metric.constraint_filtered.get("missing drivers"), Some(&2));
}

#[test]
fn constraint_that_no_node_meets_fails_with_reason_and_coalesces() {
    let mut job = batch_job(10);
    job.task_groups[0].constraints.push(Constraint {
        l_target: "${attr.os.name}".into(),
        r_target: "windows".into(),
        operand: "=".into(),
    });
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: cluster(),
        ..TestState::default()
    };
    let plan = run(&state);
    assert!(plan.is_no_op());
    let metric = &plan.failed_tg_allocs["example"];
    assert_eq!(
        metric.constraint_filtered.get("${attr.os.name} = windows"),
        Some(&3)
    );
    assert_eq!(metric.coalesced_failures, 9);
    assert_eq!(plan.queued_allocations["example"], 10);
}

#[test]
fn never_over_commits_a_node() {
    let nodes = vec![node("n1", "client-1", true)];
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(batch_job(10))),
        nodes,
        ..TestState::default()
    };
    let plan = run(&state);
    // 4890 MHz fit nine 500 MHz tasks.
    assert_eq!(placed_per_node(&plan), counts(&[("n1", 9)]));
    assert_eq!(
        plan.failed_tg_allocs["example"]
            .dimension_exhausted
            .get("cpu"),
        Some(&1)
    );
}

#[test]
fn on_many_nodes_what_other_jobs_hold_is_counted_on_every_node() {
    // Past a few dozen first visits the placer reads every candidate's usage at once:
    // the full nodes must stay full either way.
    let nodes: Vec<Arc<Node>> = (0..300)
        .map(|i| node(&format!("n{i:03}"), &format!("client-{i}"), true))
        .collect();
    let other = Job {
        id: "other".into(),
        ..batch_job(900)
    };
    let held: Vec<Arc<Allocation>> = (0..900)
        .map(|i| {
            let mut alloc = existing(
                &other,
                &format!("held-{i}"),
                &format!("n{:03}", i / 9 * 3),
                i,
                AllocClientStatus::Running,
            );
            Arc::make_mut(&mut alloc).allocated_resources =
                testkit::allocated("example", 500, 300, 0);
            alloc
        })
        .collect();
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(batch_job(1801))),
        nodes,
        allocs: held,
    };
    let plan = run(&state);
    let placed = placed_per_node(&plan);
    // Every third node is full (nine 500 MHz tasks fill 4890 MHz); the other 200 take
    // nine each, and the last placement finds no room.
    assert_eq!(placed.len(), 200);
    assert!(placed.iter().all(|(node, count)| {
        node[1..].parse::<usize>().is_ok_and(|i| i % 3 != 0) && *count == 9
    }));
    assert_eq!(plan.failed_tg_allocs["example"].nodes_exhausted, 300);
}

#[test]
fn spread_targets_are_met() {
    type Case<'a> = ([i64; 3], &'a [(&'a str, usize)]);
    let cases: [Case; 2] = [
        ([50, 0, 50], &[("n1", 5), ("n3", 5)]),
        ([70, 20, 10], &[("n1", 7), ("n2", 2), ("n3", 1)]),
    ];
    for (percents, want) in cases {
        let mut job = batch_job(10);
        job.task_groups[0].spreads.push(spread(percents));
        let state = TestState {
            deployment: None,
            job: Some(Arc::new(job)),
            nodes: cluster(),
            ..TestState::default()
        };
        assert_eq!(
            placed_per_node(&run(&state)),
            counts(want),
            "spread {percents:?}"
        );
    }
    // A spread is a preference: what no longer fits on client-2 goes elsewhere, to
    // client-1 or client-3 (equal scores: the evaluation's shuffle breaks the tie).
    let mut job = batch_job(10);
    job.task_groups[0].spreads.push(spread([0, 100, 0]));
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: cluster(),
        ..TestState::default()
    };
    let placed = placed_per_node(&run(&state));
    assert_eq!(placed.get("n2"), Some(&9));
    assert_eq!(placed.values().sum::<usize>(), 10);
}

#[test]
fn affinity_prefers_matching_nodes_but_does_not_require_them() {
    // Count 3: a group with an affinity scores min(count, 100) nodes (at least 2), so
    // with count 1 a batch job would compare only 2 of the 3 nodes and might not see
    // client-2 at all.
    let mut job = batch_job(3);
    job.task_groups[0].affinities.push(Affinity {
        l_target: "${meta.Name}".into(),
        r_target: "client-2".into(),
        operand: "=".into(),
        weight: 100,
    });
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job.clone())),
        nodes: cluster(),
        ..TestState::default()
    };
    let plan = run(&state);
    let first = plan
        .node_allocation
        .values()
        .flatten()
        .find(|a| a.index() == 0)
        .unwrap();
    assert_eq!(first.node_id, "n2");
    assert_eq!(first.metrics.nodes_evaluated, 3);
    job.task_groups[0].affinities[0].r_target = "nowhere".into();
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: cluster(),
        ..TestState::default()
    };
    assert_eq!(run(&state).node_allocation.values().flatten().count(), 3);
}

fn existing(
    job: &Job,
    id: &str,
    node: &str,
    index: u64,
    client_status: AllocClientStatus,
) -> Arc<Allocation> {
    Arc::new(Allocation {
        id: id.into(),
        namespace: "default".into(),
        name: format!("{}.example[{index}]", job.id),
        node_id: node.into(),
        job_id: job.id.clone(),
        job: Some(Arc::new(job.clone())),
        task_group: "example".into(),
        desired_status: AllocDesiredStatus::Run,
        client_status,
        ..Allocation::default()
    })
}

#[test]
fn stopped_job_stops_every_allocation() {
    let mut job = batch_job(2);
    let allocs = vec![
        existing(&job, "a", "n1", 0, AllocClientStatus::Running),
        existing(&job, "b", "n2", 1, AllocClientStatus::Running),
    ];
    job.stop = true;
    let state = on_cluster(job, allocs);
    let plan = run(&state);
    let stopped: Vec<_> = stops(&plan).map(|a| a.desired_status.as_str()).collect();
    assert_eq!(stopped, ["stop", "stop"]);
    assert!(plan.node_allocation.is_empty());
}

#[test]
fn shrinking_count_stops_highest_index() {
    let mut job = batch_job(3);
    let allocs = (0..3)
        .map(|i| existing(&job, &format!("a{i}"), "n1", i, AllocClientStatus::Running))
        .collect();
    job.task_groups[0].count = 2;
    let state = on_cluster(job, allocs);
    let plan = run(&state);
    let stopped: Vec<_> = stops(&plan).map(|a| a.id.as_str()).collect();
    assert_eq!(stopped, ["a2"]);
}

#[test]
fn completed_batch_allocations_are_not_replaced_unless_the_job_changed() {
    let job = batch_job(1);
    let allocs = vec![existing(&job, "a", "n1", 0, AllocClientStatus::Complete)];
    let state = on_cluster(job.clone(), allocs.clone());
    assert!(run(&state).is_no_op());
    let mut newer = job;
    newer.version = 1;
    newer.task_groups[0].tasks[0]
        .env
        .insert("X".into(), "1".into());
    let state = on_cluster(newer, allocs);
    assert_eq!(run(&state).node_allocation.values().flatten().count(), 1);
}

#[test]
fn allocations_on_a_down_node_are_lost_and_replaced() {
    let job = batch_job(1);
    let mut nodes = cluster();
    let mut down = Node::clone(&nodes[0]);
    down.status = NodeStatus::Down;
    nodes[0] = Arc::new(down);
    let allocs = vec![existing(&job, "a", "n1", 0, AllocClientStatus::Running)];
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes,
        allocs,
    };
    let plan = run(&state);
    let lost = &plan.node_update["n1"][0];
    assert_eq!(
        (lost.client_status.as_str(), lost.desired_status.as_str()),
        ("lost", "stop")
    );
    let replacement = first_placed(&plan);
    assert_ne!(replacement.node_id, "n1");
    assert_eq!(replacement.previous_allocation, "a");
}

#[test]
fn a_huge_count_places_what_fits_and_only_counts_the_rest() {
    let mut job = batch_job(100_000);
    job.task_groups[0].tasks[0].resources.memory_mb = 1000;
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes: vec![node("n1", "client-1", true)],
        ..TestState::default()
    };
    let plan = run(&state);
    let placed: usize = plan.node_allocation.values().map(Vec::len).sum();
    // 24,000 MB of memory hold 24 allocations of 1,000 MB; cpu (4890 MHz) holds 9.
    assert_eq!(placed, 9);
    let queued = plan.queued_allocations["example"];
    assert_eq!(queued, 100_000 - 9);
    let failed = &plan.failed_tg_allocs["example"];
    assert_eq!(failed.coalesced_failures, queued - 1);
    assert_eq!(failed.dimension_exhausted["cpu"], 1);
}

#[test]
fn cores_are_checked_against_the_nodes_cores() {
    let mut nodes = cluster();
    for n in &mut nodes {
        Arc::make_mut(n)
            .attributes
            .insert("cpu.numcores".into(), "2".into());
    }
    for (cores, placed) in [(1000, 0), (2, 1), (1, 1)] {
        let mut job = batch_job(1);
        job.task_groups[0].tasks[0].resources.cores = cores;
        let state = TestState {
            deployment: None,
            job: Some(Arc::new(job)),
            nodes: nodes.clone(),
            ..TestState::default()
        };
        let plan = run(&state);
        let got: usize = plan.node_allocation.values().map(Vec::len).sum();
        assert_eq!(got, placed, "cores = {cores}");
        if placed == 0 {
            assert_eq!(
                plan.failed_tg_allocs["example"].dimension_exhausted["cores"],
                3
            );
        }
    }
}

#[test]
fn an_allocation_marked_to_migrate_is_stopped_and_replaced() {
    let mut job = batch_job(1);
    job.r#type = Some(JobType::Service);
    let mut marked = Allocation::clone(&existing(&job, "a", "n1", 0, AllocClientStatus::Running));
    marked.desired_transition.migrate = Some(true);
    let plan = run(&on_cluster(job, vec![Arc::new(marked)]));
    let stopped: Vec<(&str, &str)> = stops(&plan)
        .map(|a| (a.id.as_str(), a.desired_description.as_str()))
        .collect();
    assert_eq!(stopped, vec![("a", crate::reconcile::ALLOC_MIGRATING)]);
    let placed: Vec<&Allocation> = placements(&plan).collect();
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].previous_allocation, "a");
}

/// Three nodes alike but for their IDs, names and `unique.` attributes: one computed
/// class.
fn one_class_cluster() -> Vec<Arc<Node>> {
    ["client-1", "client-2", "client-3"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut node = Node::clone(&node(&format!("n{}", i + 1), name, true));
            node.meta.clear();
            node.attributes
                .insert("unique.hostname".into(), name.to_string());
            node.computed_class = node.compute_class();
            Arc::new(node)
        })
        .collect()
}

#[test]
fn nodes_of_one_class_share_a_verdict_unless_a_rule_names_what_is_unique() {
    let nodes = one_class_cluster();
    assert!(
        nodes
            .iter()
            .all(|n| n.computed_class == nodes[0].computed_class)
    );
    assert!(nodes[0].computed_class.starts_with("v1:"));
    for (l_target, on) in [
        ("${node.unique.name}", "client-2"),
        ("${attr.unique.hostname}", "client-3"),
        ("${node.unique.id}", "n1"),
    ] {
        let mut job = batch_job(2);
        job.task_groups[0].constraints.push(Constraint {
            l_target: l_target.into(),
            r_target: on.into(),
            operand: "=".into(),
        });
        let state = TestState {
            job: Some(Arc::new(job)),
            nodes: nodes.clone(),
            ..TestState::default()
        };
        let plan = run(&state);
        let node = nodes.iter().find(|n| n.name == on || n.id == on).unwrap();
        assert_eq!(
            placed_per_node(&plan),
            counts(&[(node.id.as_str(), 2)]),
            "{l_target}"
        );
    }
    // A rule on what the class covers: one verdict for all three.
    let mut job = batch_job(3);
    job.constraints.push(Constraint {
        l_target: "${attr.os.name}".into(),
        r_target: "windows".into(),
        operand: "=".into(),
    });
    let state = TestState {
        job: Some(Arc::new(job)),
        nodes,
        ..TestState::default()
    };
    let plan = run(&state);
    let metric = &plan.failed_tg_allocs["example"];
    assert_eq!(
        metric.constraint_filtered.get("${attr.os.name} = windows"),
        Some(&3)
    );
}
