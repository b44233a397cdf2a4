//! Nomad's system and sysbatch schedulers: one allocation of each group on every node
//! that is ready, eligible, in the job's pool and datacenters and passes its
//! constraints, instead of `count` allocations on the best nodes. A node that joins gets
//! its allocations from the evaluation its registration triggers; a node that fails a
//! constraint is simply not used, while one that is too full is a placement failure.
//!
//! `sysbatch` follows the batch lifecycle: an allocation that completed on a node is not
//! placed there again for the same job version. `system` allocations that finished are
//! placed again only for a new version (the client's restart policy has had its say).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use caravan_structs::{
    AllocClientStatus, AllocId, Allocation, Evaluation, Job, Node, NodeId, NodeStatus, Plan,
};

use crate::reconcile::{
    ALLOC_LOST, ALLOC_MIGRATING, ALLOC_NOT_NEEDED, ALLOC_UPDATING, Placement, stopped,
    tasks_updated,
};
use crate::rules::JobRules;
use crate::{SchedulerContext, SchedulerState, new_allocation, select, shuffle};

/// Why the system scheduler leaves a node without a new allocation of a group.
const ALLOC_NODE_INFEASIBLE: &str = "alloc not needed as node is tainted";

/// Whether a drain of `node` stops the job's allocations there now: a `system` job's
/// unless the drain ignores system jobs, never a `sysbatch` job's (batch work, left to
/// finish until the drain's deadline has the drainer mark it to migrate).
fn drained(node: &Node, job: Option<&Job>) -> bool {
    use caravan_structs::JobType;
    node.drain
        && match job.map(Job::job_type) {
            Some(JobType::System) => !node.drain_ignores_system_jobs(),
            Some(JobType::Sysbatch) => false,
            _ => true,
        }
}

/// Computes the plan for one evaluation of a system or sysbatch job.
pub fn schedule(
    state: &dyn SchedulerState,
    eval: &Evaluation,
    ctx: &mut SchedulerContext<'_>,
    mut plan: Plan,
) -> Plan {
    let job = state.job(&eval.namespace, &eval.job_id);
    let existing = state.allocs_by_job(&eval.namespace, &eval.job_id);
    let all_nodes = state.nodes();
    let by_id: HashMap<&str, &Arc<Node>> = all_nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let live_job = job.as_deref().filter(|j| !j.stop);
    // What each (group, node) already has; everything else on a node that is gone,
    // down or draining, or of a job that no longer runs, stops.
    let mut on_node: BTreeMap<(String, NodeId), Vec<&Arc<Allocation>>> = BTreeMap::new();
    for alloc in existing.iter().filter(|a| !a.server_terminal()) {
        let node = by_id.get(alloc.node_id.as_str());
        let group = live_job.and_then(|j| j.group(&alloc.task_group));
        if alloc.client_terminal() {
            if group.is_some() {
                on_node
                    .entry((alloc.task_group.clone(), alloc.node_id.clone()))
                    .or_default()
                    .push(alloc);
            }
            continue;
        }
        if group.is_none() {
            plan.append_update(stopped(alloc, ALLOC_NOT_NEEDED));
        } else if node.is_none_or(|n| n.status == NodeStatus::Down) {
            let mut lost = stopped(alloc, ALLOC_LOST);
            lost.client_status = AllocClientStatus::Lost;
            lost.client_description = ALLOC_LOST.to_string();
            plan.append_update(lost);
        } else if node.is_some_and(|n| drained(n, live_job))
            || alloc.desired_transition.should_migrate()
        {
            // Nomad drains system allocations too (unless the drain ignores system
            // jobs), and places none on a draining node; sysbatch allocations are
            // batch work, left to finish until the drainer forces them.
            plan.append_update(stopped(alloc, ALLOC_MIGRATING));
        } else {
            on_node
                .entry((alloc.task_group.clone(), alloc.node_id.clone()))
                .or_default()
                .push(alloc);
        }
    }
    let Some(job) = job.filter(|j| !j.stop) else {
        return plan;
    };
    plan.all_at_once = job.all_at_once;
    // First what each candidate node already has: stops go into the plan before the
    // placer is built, so that the resources they free count.
    let candidates = state.candidates(&job);
    let rules = JobRules::new(&job);
    let mut wanted: Vec<(&caravan_structs::TaskGroup, &NodeId, Option<AllocId>)> = Vec::new();
    for group in &job.task_groups {
        plan.queued_allocations
            .entry(group.name.clone())
            .or_default();
        for node in candidates.nodes() {
            let here = on_node.remove(&(group.name.clone(), node.id.clone()));
            let Some(allocs) = here else {
                wanted.push((group, &node.id, None));
                continue;
            };
            match decide(&rules, group, node, &allocs) {
                Decision::Keep => {}
                Decision::InPlace(alloc) => {
                    let mut updated = Allocation::clone(alloc);
                    updated.job = Some(Arc::clone(&job));
                    plan.append_alloc(updated);
                }
                Decision::Replace { stop, previous } => {
                    if let Some(alloc) = stop {
                        plan.append_update(stopped(alloc, ALLOC_UPDATING));
                    }
                    wanted.push((group, &node.id, Some(previous)));
                }
            }
        }
    }
    let seed = shuffle::seed(eval.id.as_str(), ctx.snapshot_index ^ eval.snapshot_index);
    let alloc_nodes: BTreeMap<NodeId, Arc<Node>> = existing
        .iter()
        .filter_map(|a| by_id.get(a.node_id.as_str()))
        .map(|n| (n.id.clone(), Arc::clone(n)))
        .collect();
    let mut placer = select::Placer::new(
        state,
        &rules,
        Arc::clone(&candidates),
        &alloc_nodes,
        &existing,
        &plan,
        ctx.algorithm,
        seed,
    );
    let index: HashMap<NodeId, usize> = placer
        .candidates()
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), i))
        .collect();
    for (group, node_id, previous) in wanted {
        let Some(&i) = index.get(node_id) else {
            continue;
        };
        let (selected, metric) = placer.select_at(group, i);
        let Some(selected) = selected else {
            // A node the job's constraints rule out is simply not one of its nodes; a
            // node that is too full is a failed placement, as in Nomad.
            if metric.nodes_exhausted > 0 {
                match plan.failed_tg_allocs.get_mut(&group.name) {
                    Some(failed) => failed.coalesced_failures += 1,
                    None => {
                        plan.failed_tg_allocs.insert(group.name.clone(), metric);
                    }
                }
                *plan
                    .queued_allocations
                    .entry(group.name.clone())
                    .or_default() += 1;
            }
            continue;
        };
        let placement = Placement {
            group: group.name.clone(),
            index: 0,
            previous,
            reschedule: None,
        };
        let alloc = new_allocation(&job, group, &selected, &placement, eval, metric, ctx);
        placer.record(&alloc);
        plan.append_alloc(alloc);
    }
    // Allocations on nodes that are no longer candidates (ineligible, out of the job's
    // datacenters or pool) keep running, as in Nomad, unless the job changed under them
    // and the node no longer fits it.
    for ((group_name, node_id), allocs) in on_node {
        let (Some(group), Some(node)) = (job.group(&group_name), by_id.get(node_id.as_str()))
        else {
            continue;
        };
        for alloc in allocs.iter().filter(|a| !a.client_terminal()) {
            if alloc.job_version() != job.version && !rules.still_feasible(group, node) {
                plan.append_update(stopped(alloc, ALLOC_NODE_INFEASIBLE));
            }
        }
    }
    plan
}

/// What to do about the allocations a group already has on a candidate node.
enum Decision<'a> {
    /// It runs the current version, or finished in a way that needs no new one.
    Keep,
    /// Move it to the new version without a restart.
    InPlace(&'a Allocation),
    /// Place a new one: after stopping `stop` (still running an old version), or in the
    /// place of a finished one; `previous` is the one replaced.
    Replace {
        stop: Option<&'a Allocation>,
        previous: AllocId,
    },
}

fn decide<'a>(
    rules: &JobRules,
    group: &caravan_structs::TaskGroup,
    node: &Node,
    allocs: &'a [&'a Arc<Allocation>],
) -> Decision<'a> {
    let job = rules.job();
    // The newest one speaks for the node (earlier ones were replaced already).
    let Some(alloc) = allocs.iter().max_by_key(|a| a.create_index) else {
        return Decision::Keep;
    };
    let current = alloc.job_version() == job.version;
    if alloc.client_terminal() {
        // sysbatch: done on this node for this version; system: finished work is not
        // restarted by the scheduler for the same version either. A new version runs
        // again.
        if current {
            return Decision::Keep;
        }
        return Decision::Replace {
            stop: None,
            previous: alloc.id.clone(),
        };
    }
    if current {
        return Decision::Keep;
    }
    let old_group = alloc.job.as_ref().and_then(|j| j.group(&group.name));
    if old_group.is_some_and(|old| !tasks_updated(old, group)) && rules.still_feasible(group, node)
    {
        return Decision::InPlace(alloc);
    }
    Decision::Replace {
        stop: Some(alloc),
        previous: alloc.id.clone(),
    }
}
