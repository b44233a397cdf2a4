//! Property tests: random clusters, random jobs, random existing allocations; the plan
//! keeps the scheduler's invariants whatever the input.

use std::collections::BTreeSet;

use caravan_structs::constraint::Target;
use proptest::prelude::*;

use super::*;
use crate::feasible;

#[derive(Debug, Clone)]
struct NodeSpec {
    cpu: i64,
    memory_mb: i64,
    os: &'static str,
    rack: Option<&'static str>,
    raw_exec: bool,
    status: NodeStatus,
    eligible: bool,
    drain: bool,
    datacenter: &'static str,
}

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (
        500i64..8000,
        256i64..16_000,
        prop::sample::select(vec!["linux", "linux", "windows"]),
        prop::option::weighted(0.8, prop::sample::select(vec!["r1", "r2", "r3"])),
        prop::bool::weighted(0.85),
        prop::sample::select(vec![
            NodeStatus::Ready,
            NodeStatus::Ready,
            NodeStatus::Ready,
            NodeStatus::Down,
        ]),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.1),
        prop::sample::select(vec!["dc1", "dc1", "dc2"]),
    )
        .prop_map(
            |(cpu, memory_mb, os, rack, raw_exec, status, eligible, drain, datacenter)| NodeSpec {
                cpu,
                memory_mb,
                os,
                rack,
                raw_exec,
                status,
                eligible,
                drain,
                datacenter,
            },
        )
}

/// The constraint vocabulary.
fn constraint() -> impl Strategy<Value = Constraint> {
    let c = |l: &str, op: &str, r: &str| Constraint {
        l_target: l.into(),
        r_target: r.into(),
        operand: op.into(),
    };
    prop::sample::select(vec![
        c("${attr.kernel.name}", "=", "linux"),
        c("${attr.kernel.name}", "!=", "windows"),
        c("${meta.rack}", "is_set", ""),
        c("${meta.rack}", "=", "r1"),
        c("${meta.rack}", "set_contains_any", "r2,r3"),
        c("${attr.cpu.numcores}", ">=", "4"),
        c("${attr.kernel.version}", "version", ">= 4.0, < 6.0"),
        c("${attr.kernel.version}", "regexp", "^5"),
        c("", "distinct_hosts", "true"),
        c("${meta.rack}", "distinct_property", "3"),
    ])
}

#[derive(Debug, Clone)]
struct GroupSpec {
    count: i64,
    cpu: i64,
    memory_mb: i64,
    constraints: Vec<Constraint>,
    spread: bool,
    affinity: bool,
    /// A `port "http" { static = n }`.
    static_port: Option<i64>,
    /// How many `port "dN" {}`.
    dynamic_ports: usize,
}

fn group_spec() -> impl Strategy<Value = GroupSpec> {
    (
        0i64..=50,
        100i64..2000,
        64i64..4000,
        prop::collection::vec(constraint(), 0..3),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::sample::select(vec![None, None, Some(8080), Some(8081)]),
        0usize..=2,
    )
        .prop_map(
            |(count, cpu, memory_mb, constraints, spread, affinity, static_port, dynamic_ports)| {
                GroupSpec {
                    count,
                    cpu,
                    memory_mb,
                    constraints,
                    spread,
                    affinity,
                    static_port,
                    dynamic_ports,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct AllocSpec {
    group: usize,
    node: usize,
    client_status: AllocClientStatus,
    stopped: bool,
    old_version: bool,
}

fn alloc_spec() -> impl Strategy<Value = AllocSpec> {
    (
        0usize..3,
        0usize..30,
        prop::sample::select(vec![
            AllocClientStatus::Running,
            AllocClientStatus::Running,
            AllocClientStatus::Pending,
            AllocClientStatus::Complete,
            AllocClientStatus::Failed,
        ]),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(group, node, client_status, stopped, old_version)| AllocSpec {
                group,
                node,
                client_status,
                stopped,
                old_version,
            },
        )
}

fn build_nodes(specs: &[NodeSpec]) -> Vec<Arc<Node>> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut n = Node::clone(&node(
                &format!("n{i:02}"),
                &format!("client-{i}"),
                s.raw_exec,
            ));
            n.node_resources.cpu.cpu_shares = s.cpu;
            n.node_resources.memory.memory_mb = s.memory_mb;
            n.attributes.insert("kernel.name".into(), s.os.into());
            n.attributes
                .insert("cpu.numcores".into(), (s.cpu / 1000).to_string());
            n.attributes.insert(
                "kernel.version".into(),
                format!("{}.{}.0", 3 + s.cpu % 4, s.memory_mb % 20),
            );
            if let Some(rack) = s.rack {
                n.meta.insert("rack".into(), rack.into());
            }
            n.status = s.status;
            if !s.eligible {
                n.scheduling_eligibility = NodeEligibility::Ineligible;
            }
            n.drain = s.drain;
            n.datacenter = s.datacenter.into();
            Arc::new(n)
        })
        .collect()
}

fn build_job(batch: bool, datacenters: &[&str], groups: &[GroupSpec]) -> Job {
    let mut job = batch_job(1);
    if !batch {
        job.r#type = Some(JobType::Service);
    }
    job.version = 1;
    job.datacenters = datacenters.iter().map(|d| d.to_string()).collect();
    let template = job.task_groups[0].clone();
    job.task_groups = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut group = template.clone();
            group.name = format!("g{i}");
            group.count = g.count;
            group.tasks[0].resources.cpu = g.cpu;
            group.tasks[0].resources.memory_mb = g.memory_mb;
            group.constraints = g.constraints.clone();
            if g.spread {
                group.spreads.push(Spread {
                    attribute: "${meta.rack}".into(),
                    weight: 50,
                    spread_target: Vec::new(),
                });
            }
            if g.affinity {
                group.affinities.push(Affinity {
                    l_target: "${attr.kernel.name}".into(),
                    r_target: "windows".into(),
                    operand: "=".into(),
                    weight: -30,
                });
            }
            if g.static_port.is_some() || g.dynamic_ports > 0 {
                group.networks = vec![NetworkResource {
                    reserved_ports: g
                        .static_port
                        .map(|value| Port {
                            label: "http".into(),
                            value,
                            ..Port::default()
                        })
                        .into_iter()
                        .collect(),
                    dynamic_ports: (0..g.dynamic_ports)
                        .map(|d| Port {
                            label: format!("d{d}"),
                            ..Port::default()
                        })
                        .collect(),
                    ..NetworkResource::default()
                }];
            }
            group
        })
        .collect();
    job
}

fn build_allocs(job: &Job, nodes: &[Arc<Node>], specs: &[AllocSpec]) -> Vec<Arc<Allocation>> {
    let mut old = job.clone();
    old.version = 0;
    for group in &mut old.task_groups {
        group.tasks[0].env.insert("OLD".into(), "1".into());
    }
    specs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.group < job.task_groups.len())
        .map(|(i, s)| {
            let group = &job.task_groups[s.group];
            let task = &group.tasks[0];
            let node = &nodes[s.node % nodes.len()];
            // Existing allocations hold their group's ports: the static one and a
            // dynamic port low in the range.
            let ports = group
                .networks
                .iter()
                .flat_map(|n| n.ports())
                .enumerate()
                .map(|(k, p)| AllocatedPortMapping {
                    label: p.label.clone(),
                    value: if p.value > 0 {
                        p.value
                    } else {
                        20_000 + (i + k) as i64 % 4
                    },
                    ..AllocatedPortMapping::default()
                })
                .collect();
            Arc::new(Allocation {
                id: format!("old-{i:02}").into(),
                namespace: "default".into(),
                name: format!("{}.{}[{i}]", job.id, group.name),
                node_id: node.id.clone(),
                job_id: job.id.clone(),
                job: Some(Arc::new(if s.old_version {
                    old.clone()
                } else {
                    job.clone()
                })),
                task_group: group.name.clone(),
                desired_status: if s.stopped {
                    AllocDesiredStatus::Stop
                } else {
                    AllocDesiredStatus::Run
                },
                client_status: s.client_status,
                allocated_resources: AllocatedResources {
                    tasks: [(
                        task.name.clone(),
                        AllocatedTaskResources {
                            cpu: CpuResources {
                                cpu_shares: task.resources.cpu,
                            },
                            memory: MemoryResources {
                                memory_mb: task.resources.memory_mb,
                                memory_max_mb: 0,
                            },
                        },
                    )]
                    .into(),
                    shared: AllocatedSharedResources {
                        ports,
                        ..AllocatedSharedResources::default()
                    },
                },
                ..Allocation::default()
            })
        })
        .collect()
}

/// Checks every invariant of `plan`; `Err` says which broke.
fn check_plan(state: &TestState, plan: &Plan) -> Result<(), String> {
    let job = state.job.as_ref().expect("the job exists");
    let nodes: BTreeMap<&str, &Arc<Node>> =
        state.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let existing_ids: BTreeSet<&str> = state.allocs.iter().map(|a| a.id.as_str()).collect();
    let stopped: BTreeSet<&str> = stops(plan).map(|a| a.id.as_str()).collect();
    let placed: Vec<&Allocation> = plan
        .node_allocation
        .values()
        .flatten()
        .filter(|a| !existing_ids.contains(a.id.as_str()))
        .collect();
    // What lives once the plan is applied: existing, not terminal, not stopped; plus new.
    let live: Vec<&Allocation> = state
        .allocs
        .iter()
        .map(|a| a.as_ref())
        .filter(|a| !a.terminal() && !stopped.contains(a.id.as_str()))
        .chain(placed.iter().copied())
        .collect();

    for group in &job.task_groups {
        let n = live
            .iter()
            .filter(|a| a.job_id == job.id && a.task_group == group.name)
            .count();
        if n as i64 > group.count.max(0) {
            return Err(format!(
                "group {} has {n} live allocations, count {}",
                group.name, group.count
            ));
        }
    }

    for alloc in &placed {
        let node = nodes[alloc.node_id.as_str()];
        if !node.is_schedulable() {
            return Err(format!(
                "{} placed on unschedulable {}",
                alloc.name, node.id
            ));
        }
        if !feasible::in_datacenters(job, node) {
            return Err(format!(
                "{} placed outside the datacenters on {}",
                alloc.name, node.id
            ));
        }
        let group = job
            .group(&alloc.task_group)
            .expect("placed for a group of the job");
        let rules = crate::rules::JobRules::new(job);
        let g = rules.group_index(group).expect("the group is the job's");
        if let Err(reason) = rules.check(g, node) {
            return Err(format!(
                "{} placed on {} which fails {reason}",
                alloc.name, node.id
            ));
        }
        let same_group_here = live
            .iter()
            .filter(|a| a.node_id == node.id && a.task_group == group.name)
            .count();
        let hosts = group
            .constraints
            .iter()
            .any(|c| c.operand == "distinct_hosts");
        if hosts && same_group_here > 1 {
            return Err(format!("distinct_hosts broken on {}", node.id));
        }
        for c in group
            .constraints
            .iter()
            .filter(|c| c.operand == "distinct_property")
        {
            let target = Target::parse(&c.l_target);
            let Some(value) = target.resolve(node) else {
                return Err(format!(
                    "distinct_property on {} without {}",
                    node.id, c.l_target
                ));
            };
            let allowed: usize = c.r_target.parse().unwrap_or(1);
            let used = live
                .iter()
                .filter(|a| a.task_group == group.name)
                .filter(|a| {
                    nodes
                        .get(a.node_id.as_str())
                        .and_then(|n| target.resolve(n))
                        == Some(value)
                })
                .count();
            // Existing allocations may already exceed it; the plan must not add to that.
            let placed_here = placed
                .iter()
                .filter(|a| a.task_group == group.name)
                .filter(|a| target.resolve(nodes[a.node_id.as_str()]) == Some(value))
                .count();
            if placed_here > 0 && used > allowed {
                return Err(format!(
                    "distinct_property {value} over {allowed} on {}",
                    node.id
                ));
            }
        }
    }

    let placed_on: BTreeSet<&str> = placed.iter().map(|a| a.node_id.as_str()).collect();
    for node_id in placed_on {
        let node = nodes[node_id];
        let (cpu_total, mem_total) = node.allocatable();
        let on_node = state
            .allocs
            .iter()
            .map(|a| a.as_ref())
            .filter(|a| a.node_id == node_id && !a.terminal() && !stopped.contains(a.id.as_str()))
            .chain(placed.iter().copied().filter(|a| a.node_id == node_id));
        let (cpu, mem) = on_node.fold((0, 0), |(c, m), a| {
            (
                c + a.allocated_resources.cpu(),
                m + a.allocated_resources.memory_mb(),
            )
        });
        if cpu > cpu_total || mem > mem_total {
            return Err(format!(
                "{node_id} over-committed: {cpu}/{cpu_total} MHz, {mem}/{mem_total} MB"
            ));
        }
    }

    // A placement holds every port its group asks for, and none another live allocation
    // on its node holds (existing ones may already collide: the plan must not add to it).
    for alloc in &placed {
        let group = job.group(&alloc.task_group).expect("a group of the job");
        let asked = group.networks.iter().flat_map(|n| n.ports()).count();
        let ports = &alloc.allocated_resources.shared.ports;
        if ports.len() != asked {
            return Err(format!(
                "{} holds {} ports, asked {asked}",
                alloc.id,
                ports.len()
            ));
        }
        for port in ports {
            let holders = live
                .iter()
                .filter(|a| a.node_id == alloc.node_id)
                .filter(|a| {
                    a.allocated_resources
                        .shared
                        .host_ports()
                        .any(|p| p == port.value)
                })
                .count();
            if holders > 1 {
                return Err(format!(
                    "port {} on {} held by {holders} live allocations",
                    port.value, alloc.node_id
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn plans_keep_the_invariants(
        node_specs in prop::collection::vec(node_spec(), 1..=30),
        groups in prop::collection::vec(group_spec(), 1..=3),
        alloc_specs in prop::collection::vec(alloc_spec(), 0..20),
        batch in any::<bool>(),
        datacenters in prop::sample::select(vec![vec!["dc1"], vec!["*"], vec!["dc2"], vec!["dc*"]]),
        algorithm in prop::sample::select(vec![SchedulerAlgorithm::BinPack, SchedulerAlgorithm::Spread]),
    ) {
        let nodes = build_nodes(&node_specs);
        let job = build_job(batch, &datacenters, &groups);
        let allocs = build_allocs(&job, &nodes, &alloc_specs);
        let state = TestState { job: Some(Arc::new(job)), nodes, allocs, deployment: None };
        let plan = run_with(&state, algorithm);
        if let Err(broken) = check_plan(&state, &plan) {
            return Err(TestCaseError::fail(broken));
        }
    }
}

/// What the plan applier does with a plan: drops its placements on the nodes
/// [`crate::plan_check::evaluate_plan`] rejects and commits the rest into `state`.
fn commit_through_applier(state: &mut TestState, plan: &Plan) {
    let stops: Vec<Allocation> = stops(plan).cloned().collect();
    let placements: Vec<Allocation> = plan.node_allocation.values().flatten().cloned().collect();
    let rejected = crate::plan_check::evaluate_plan(state, &stops, &placements);
    let changed: BTreeSet<String> = stops
        .iter()
        .chain(&placements)
        .filter(|a| !rejected.contains_key(&a.node_id))
        .map(|a| a.id.to_string())
        .collect();
    state.allocs.retain(|a| !changed.contains(a.id.as_str()));
    for alloc in stops.into_iter().chain(placements) {
        if changed.contains(alloc.id.as_str()) {
            state.allocs.push(Arc::new(alloc));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Two workers schedule two jobs on the same snapshot, each unaware of the other's
    /// plan; whatever order the applier takes them in, no node ends up over-committed.
    #[test]
    fn two_plans_from_one_snapshot_never_over_commit_a_node(
        node_specs in prop::collection::vec(node_spec(), 1..=8),
        first_groups in prop::collection::vec(group_spec(), 1..=3),
        second_groups in prop::collection::vec(group_spec(), 1..=3),
        alloc_specs in prop::collection::vec(alloc_spec(), 0..10),
        second_first in any::<bool>(),
    ) {
        let nodes = build_nodes(&node_specs);
        let first = build_job(false, &["*"], &first_groups);
        let mut second = build_job(false, &["*"], &second_groups);
        second.id = "second".into();
        let allocs = build_allocs(&first, &nodes, &alloc_specs);
        let view = |job: &Job| TestState {
            job: Some(Arc::new(job.clone())),
            nodes: nodes.clone(),
            allocs: allocs.clone(),
            deployment: None,
        };
        let mut plans = vec![run_with(&view(&first), SchedulerAlgorithm::BinPack)];
        let mut second_plan = run_with(&view(&second), SchedulerAlgorithm::BinPack);
        // Both ran with the same ID sequence; the applier sees distinct allocations.
        for alloc in second_plan.node_allocation.values_mut().flatten() {
            alloc.id = format!("second-{}", alloc.id).into();
        }
        plans.push(second_plan);
        if second_first {
            plans.reverse();
        }
        let mut committed = view(&first);
        for plan in &plans {
            commit_through_applier(&mut committed, plan);
        }
        for node in &nodes {
            let live = committed
                .allocs
                .iter()
                .filter(|a| a.node_id == node.id && !a.terminal())
                .map(|a| a.as_ref());
            let before = allocs
                .iter()
                .filter(|a| a.node_id == node.id && !a.terminal())
                .map(|a| a.as_ref());
            // A node over-committed before the plans may stay so; it must not get worse.
            if crate::select::allocs_fit(node, before).is_ok() {
                prop_assert!(
                    crate::select::allocs_fit(node, live).is_ok(),
                    "node {} over-committed", node.id
                );
            }
        }
    }
}
