//! Ranking, the limit iterator, resources and updates, through whole evaluations.

use super::*;

fn with_meta(nodes: Vec<Arc<Node>>, key: &str, values: &[&str]) -> Vec<Arc<Node>> {
    nodes
        .into_iter()
        .zip(values)
        .map(|(n, v)| {
            let mut n = Node::clone(&n);
            n.meta.insert(key.into(), v.to_string());
            Arc::new(n)
        })
        .collect()
}

fn four_nodes() -> Vec<Arc<Node>> {
    let nodes = (1..=4)
        .map(|i| node(&format!("n{i}"), &format!("client-{i}"), true))
        .collect();
    let nodes = with_meta(nodes, "rack", &["r1", "r1", "r2", "r2"]);
    with_meta(nodes, "zone", &["z1", "z2", "z1", "z2"])
}

fn service(mut job: Job) -> Job {
    job.r#type = Some(JobType::Service);
    job
}

fn state(job: Job, nodes: Vec<Arc<Node>>) -> TestState {
    TestState {
        deployment: None,
        job: Some(Arc::new(job)),
        nodes,
        ..TestState::default()
    }
}

fn targets(attribute: &str, weight: i64, targets: &[(&str, i64)]) -> Spread {
    testkit::spread(attribute, weight, targets)
}

/// The node of allocation `[index]`.
fn node_of(plan: &Plan, index: u64) -> String {
    plan.node_allocation
        .values()
        .flatten()
        .find(|a| a.index() == index)
        .map(|a| a.node_id.to_string())
        .expect("the allocation was placed")
}

#[test]
fn spread_without_targets_is_even() {
    let mut job = service(batch_job(9));
    job.task_groups[0]
        .spreads
        .push(targets("${meta.Name}", 50, &[]));
    let plan = run(&state(job, cluster()));
    assert_eq!(
        placed_per_node(&plan),
        counts(&[("n1", 3), ("n2", 3), ("n3", 3)])
    );
}

#[test]
fn spread_target_of_zero_percent_gets_nothing_while_others_have_room() {
    let mut job = batch_job(6);
    job.task_groups[0]
        .spreads
        .push(targets("${meta.rack}", 50, &[("r1", 0), ("r2", 100)]));
    let plan = run(&state(job, four_nodes()));
    let placed = placed_per_node(&plan);
    assert_eq!(placed.keys().collect::<Vec<_>>(), ["n3", "n4"]);
    assert_eq!(placed.values().sum::<usize>(), 6);
}

#[test]
fn two_spreads_are_both_met() {
    // Zone z1 (n1, n3) takes everything, racks half each: n1 and n3 twice.
    let mut job = batch_job(4);
    job.task_groups[0].spreads = vec![
        targets("${meta.rack}", 50, &[("r1", 50), ("r2", 50)]),
        targets("${meta.zone}", 50, &[("z1", 100)]),
    ];
    let plan = run(&state(job, four_nodes()));
    assert_eq!(placed_per_node(&plan), counts(&[("n1", 2), ("n3", 2)]));
}

#[test]
fn heavier_spread_wins_a_conflict() {
    // Rack r1 (n1, n2) against client-3 (on r2): the weightier spread decides where the
    // first allocation goes.
    for (rack_weight, name_weight, want) in [(90, 10, ["n1", "n2"]), (10, 90, ["n3", "n3"])] {
        let mut job = batch_job(4);
        job.task_groups[0].spreads = vec![
            targets("${meta.rack}", rack_weight, &[("r1", 100)]),
            targets("${meta.Name}", name_weight, &[("client-3", 100)]),
        ];
        let plan = run(&state(job, four_nodes()));
        let first = node_of(&plan, 0);
        assert!(
            want.contains(&first.as_str()),
            "weights {rack_weight}/{name_weight}: first allocation on {first}"
        );
    }
}

#[test]
fn negative_affinity_avoids_a_node() {
    let mut job = batch_job(6);
    job.task_groups[0].affinities.push(Affinity {
        l_target: "${meta.Name}".into(),
        r_target: "client-2".into(),
        operand: "=".into(),
        weight: -100,
    });
    let plan = run(&state(job, cluster()));
    assert!(!placed_per_node(&plan).contains_key("n2"));
    assert_eq!(plan.node_allocation.values().flatten().count(), 6);
    let scores = &first_placed(&plan).metrics;
    let avoided = scores
        .score_meta_data
        .iter()
        .find(|s| s.node_id == "n2")
        .expect("n2 was scored");
    assert_eq!(avoided.scores["node-affinity"], -1.0);
}

#[test]
fn affinity_weights_combine() {
    // +50 for client-3, -50 for rack r2 (n3, n4): n3 nets 0, n4 -0.5, n1/n2 0.
    let mut job = batch_job(4);
    job.task_groups[0].affinities = vec![
        Affinity {
            l_target: "${meta.Name}".into(),
            r_target: "client-3".into(),
            operand: "=".into(),
            weight: 50,
        },
        Affinity {
            l_target: "${meta.rack}".into(),
            r_target: "r2".into(),
            operand: "=".into(),
            weight: -50,
        },
    ];
    let plan = run(&state(job, four_nodes()));
    let metric = &first_placed(&plan).metrics;
    let affinity: BTreeMap<&str, f64> = metric
        .score_meta_data
        .iter()
        .map(|s| (s.node_id.as_str(), s.scores["node-affinity"]))
        .collect();
    for (node, want) in [("n1", 0.0), ("n2", 0.0), ("n3", 0.0), ("n4", -0.5)] {
        if let Some(got) = affinity.get(node) {
            assert_eq!(*got, want, "{node}");
        }
    }
    assert!(!placed_per_node(&plan).contains_key("n4"));
}

fn one_node_with(cpu: i64, memory_mb: i64, disk_mb: i64) -> Vec<Arc<Node>> {
    let mut n = Node::clone(&node("n1", "client-1", true));
    n.node_resources.cpu.cpu_shares = cpu;
    n.node_resources.memory.memory_mb = memory_mb;
    n.node_resources.disk.disk_mb = disk_mb;
    vec![Arc::new(n)]
}

#[test]
fn exhaustion_names_the_dimension() {
    let cases: [(i64, i64, i64, &str); 3] = [
        (400, 24_000, 100_000, "cpu"),
        (4890, 200, 100_000, "memory"),
        (4890, 24_000, 100, "disk"),
    ];
    for (cpu, memory, disk, dimension) in cases {
        let mut job = batch_job(1);
        job.task_groups[0].ephemeral_disk.size_mb = 300;
        let plan = run(&state(job, one_node_with(cpu, memory, disk)));
        let metric = &plan.failed_tg_allocs["example"];
        assert_eq!(metric.nodes_exhausted, 1, "{dimension}");
        assert_eq!(
            metric.dimension_exhausted,
            [(dimension.to_string(), 1)].into(),
            "{dimension}"
        );
    }
}

#[test]
fn reserved_resources_are_not_handed_out() {
    let mut n = Node::clone(&one_node_with(1000, 24_000, 100_000)[0]);
    n.reserved_resources.cpu.cpu_shares = 600;
    let plan = run(&state(batch_job(1), vec![Arc::new(n)]));
    assert_eq!(
        plan.failed_tg_allocs["example"]
            .dimension_exhausted
            .get("cpu"),
        Some(&1)
    );
}

/// Runs version 1 of `job`, changed by `edit`, over its running allocation `a` (version
/// 0, on n1) in the three-node cluster.
fn update_over_a(job: &Job, edit: impl FnOnce(&mut Job)) -> Plan {
    let allocs = vec![existing(job, "a", "n1", 0, AllocClientStatus::Running)];
    let mut updated = job.clone();
    updated.version = 1;
    edit(&mut updated);
    run(&on_cluster(updated, allocs))
}

/// The allocation that replaces `a` in a destructive update, once it is checked that `a`
/// was stopped for the update.
fn replacement_of_a(plan: &Plan) -> &Allocation {
    let stopped = &plan.node_update["n1"][0];
    assert_eq!(
        (stopped.id.as_str(), stopped.desired_description.as_str()),
        ("a", crate::reconcile::ALLOC_UPDATING)
    );
    first_placed(plan)
}

#[test]
fn unchanged_group_updates_in_place_changed_task_replaces() {
    let job = batch_job(1);

    let plan = update_over_a(&job, |meta_only| {
        meta_only.meta.insert("owner".into(), "ops".into());
    });
    assert!(plan.node_update.values().all(Vec::is_empty));
    let updated = &plan.node_allocation["n1"][0];
    assert_eq!((updated.id.as_str(), updated.job_version()), ("a", 1));

    let plan = update_over_a(&job, |new_env| {
        new_env.task_groups[0].tasks[0]
            .env
            .insert("X".into(), "1".into());
    });
    let replacement = replacement_of_a(&plan);
    assert_ne!(replacement.id, "a");
    assert_eq!(replacement.previous_allocation, "a");
}

#[test]
fn batch_job_scores_two_nodes() {
    let nodes: Vec<Arc<Node>> = (1..=6)
        .map(|i| node(&format!("n{i}"), &format!("client-{i}"), true))
        .collect();
    let plan = run(&state(batch_job(1), nodes));
    let metric = &first_placed(&plan).metrics;
    assert_eq!(metric.nodes_evaluated, 2);
    assert_eq!(metric.score_meta_data.len(), 2);
    assert_eq!(metric.nodes_in_pool, 6);
    assert_eq!(metric.nodes_available, [("dc1".to_string(), 6)].into());
}

#[test]
fn service_job_scores_log2_of_the_nodes() {
    let nodes: Vec<Arc<Node>> = (1..=20)
        .map(|i| node(&format!("n{i:02}"), &format!("client-{i}"), true))
        .collect();
    let plan = run(&state(service(batch_job(1)), nodes));
    let metric = &first_placed(&plan).metrics;
    // ceil(log2(20)) = 5; ScoreMetaData keeps the top 5.
    assert_eq!(metric.nodes_evaluated, 5);
    assert_eq!(metric.score_meta_data.len(), 5);
}

#[test]
fn filtered_nodes_do_not_count_toward_the_limit() {
    let nodes: Vec<Arc<Node>> = (1..=6)
        .map(|i| node(&format!("n{i}"), &format!("client-{i}"), i % 2 == 0))
        .collect();
    let plan = run(&state(batch_job(1), nodes));
    let metric = &first_placed(&plan).metrics;
    assert_eq!(metric.score_meta_data.len(), 2);
    assert_eq!(
        metric.nodes_evaluated,
        2 + metric
            .constraint_filtered
            .get("missing drivers")
            .copied()
            .unwrap_or(0)
    );
}

#[test]
fn placements_walk_on_through_the_shuffled_nodes() {
    // Batch allocations of one evaluation look at different pairs of nodes, so ten
    // of them on ten empty nodes do not all land on one.
    let nodes: Vec<Arc<Node>> = (0..10)
        .map(|i| node(&format!("n{i}"), &format!("client-{i}"), true))
        .collect();
    let plan = run(&state(batch_job(10), nodes));
    assert!(placed_per_node(&plan).len() > 1);
}

#[test]
fn same_evaluation_same_plan() {
    let nodes: Vec<Arc<Node>> = (0..30)
        .map(|i| node(&format!("n{i:02}"), &format!("client-{i}"), true))
        .collect();
    let a = run(&state(batch_job(12), nodes.clone()));
    let b = run(&state(batch_job(12), nodes));
    assert_eq!(placed_per_node(&a), placed_per_node(&b));
}

#[test]
fn spread_algorithm_prefers_the_emptier_node() {
    // n1 already runs another job's 2000 MHz; binpack fills it, spread avoids it.
    let other = Arc::new(Allocation {
        id: "other".into(),
        node_id: "n1".into(),
        job_id: "other".into(),
        desired_status: AllocDesiredStatus::Run,
        client_status: AllocClientStatus::Running,
        allocated_resources: AllocatedResources {
            tasks: [(
                "t".to_string(),
                AllocatedTaskResources {
                    cpu: CpuResources { cpu_shares: 2000 },
                    memory: MemoryResources {
                        memory_mb: 8000,
                        memory_max_mb: 0,
                    },
                },
            )]
            .into(),
            ..AllocatedResources::default()
        },
        ..Allocation::default()
    });
    let nodes = vec![node("n1", "client-1", true), node("n2", "client-2", true)];
    let state = TestState {
        deployment: None,
        job: Some(Arc::new(service(batch_job(1)))),
        nodes,
        allocs: vec![other],
    };
    let binpack = run_with(&state, SchedulerAlgorithm::BinPack);
    let spread = run_with(&state, SchedulerAlgorithm::Spread);
    assert_eq!(placed_per_node(&binpack), counts(&[("n1", 1)]));
    assert_eq!(placed_per_node(&spread), counts(&[("n2", 1)]));
    let scores = &spread.node_allocation["n2"][0].metrics.score_meta_data[0];
    assert!(scores.scores["binpack"] > 0.8, "{scores:?}");
}

#[test]
fn algorithm_names_parse() {
    assert_eq!("spread".parse(), Ok(SchedulerAlgorithm::Spread));
    assert_eq!("binpack".parse(), Ok(SchedulerAlgorithm::BinPack));
    assert!("worst-fit".parse::<SchedulerAlgorithm>().is_err());
}

#[test]
fn fit_formulas_match_nomad() {
    use crate::rank::{bin_pack_score, spread_fit_score};
    // Nomad's examples: an empty 4000 MHz / 8192 MB node taking 100 MHz / 300 MB.
    assert!((bin_pack_score(100, 4000, 300, 8192) - 0.076).abs() < 0.001);
    assert!((bin_pack_score(1000, 4000, 2048, 8192) - 0.486).abs() < 0.001);
    assert_eq!(bin_pack_score(4000, 4000, 8192, 8192), 1.0);
    // Worst fit mirrors it: an empty node is best, a full one worst.
    assert_eq!(spread_fit_score(0, 4000, 0, 8192), 1.0);
    assert_eq!(spread_fit_score(4000, 4000, 8192, 8192), 0.0);
}

#[test]
fn scaling_up_keeps_running_allocations_in_place() {
    let plan = update_over_a(&batch_job(1), |scaled| scaled.task_groups[0].count = 3);
    assert!(
        plan.node_update.values().all(Vec::is_empty),
        "nothing may be stopped"
    );
    let placed: Vec<_> = plan.node_allocation.values().flatten().collect();
    assert_eq!(
        placed.iter().filter(|a| a.id == "a").count(),
        1,
        "the running allocation moves to v1 in place"
    );
    assert_eq!(placed.iter().filter(|a| a.id != "a").count(), 2);
}

#[test]
fn an_update_whose_constraint_rules_out_the_node_is_destructive() {
    let plan = update_over_a(&batch_job(1), |constrained| {
        constrained.task_groups[0].constraints.push(Constraint {
            l_target: "${meta.Name}".into(),
            r_target: "client-2".into(),
            operand: "=".into(),
        });
    });
    assert_eq!(replacement_of_a(&plan).node_id, "n2");
}
