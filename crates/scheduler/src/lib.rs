//! The scheduler: a pure function from a state snapshot and an evaluation to a [`Plan`].
//!
//! It follows Nomad's generic scheduler (service and batch jobs): reconcile what the job
//! wants against the allocations that exist ([`reconcile`]), then place each missing
//! allocation by filtering nodes ([`feasible`]) and ranking the rest ([`rank`]). Unlike
//! Nomad it scores every feasible node instead of sampling two or log2(N) of them, so the
//! metrics explain every node's fate and the choice does not depend on a shuffle.
//!
//! No I/O, no clock, no randomness: time and IDs come in through [`SchedulerContext`].

pub mod feasible;
pub mod rank;
pub mod reconcile;
pub mod version;

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_structs::{Allocation, Evaluation, Job, Node, Plan};

/// What the scheduler reads. The server implements it over a state snapshot; tests
/// implement it over plain vectors.
pub trait SchedulerState {
    /// The job, unless it was purged.
    fn job(&self, namespace: &str, id: &str) -> Option<Arc<Job>>;
    /// Every allocation of the job, of every version.
    fn allocs_by_job(&self, namespace: &str, id: &str) -> Vec<Arc<Allocation>>;
    /// Every node, in any state.
    fn nodes(&self) -> Vec<Arc<Node>>;
    /// Allocations placed on the node.
    fn allocs_by_node(&self, node_id: &str) -> Vec<Arc<Allocation>>;
}

/// What the scheduler needs from outside: the time and fresh IDs.
pub struct SchedulerContext<'a> {
    /// Unix nanoseconds, stamped on new allocations.
    pub now: i64,
    /// Makes a new allocation ID.
    pub new_id: &'a mut dyn FnMut() -> String,
}

/// Computes the plan for one evaluation of a service or batch job.
pub fn schedule(
    state: &dyn SchedulerState,
    eval: &Evaluation,
    ctx: &mut SchedulerContext<'_>,
) -> Plan {
    let mut plan = Plan {
        eval_id: eval.id.clone(),
        priority: eval.priority,
        ..Plan::default()
    };
    let job = state.job(&eval.namespace, &eval.job_id);
    let existing = state.allocs_by_job(&eval.namespace, &eval.job_id);
    let nodes: BTreeMap<String, Arc<Node>> = state
        .nodes()
        .into_iter()
        .map(|n| (n.id.clone(), n))
        .collect();
    let changes = reconcile::reconcile(job.as_deref(), &existing, &nodes);

    for stop in changes.stops {
        plan.append_update(stop);
    }
    for update in changes.in_place {
        plan.append_alloc(update);
    }
    let Some(job) = job else { return plan };
    plan.all_at_once = job.all_at_once;
    let mut placer = rank::Placer::new(state, &job, &nodes, &plan);
    for placement in changes.placements {
        let Some(group) = job.group(&placement.group) else {
            continue;
        };
        if let Some(metric) = plan.failed_tg_allocs.get_mut(&group.name) {
            // Nomad: once a group failed in this evaluation, later copies only count.
            metric.coalesced_failures += 1;
            *plan
                .queued_allocations
                .entry(group.name.clone())
                .or_default() += 1;
            continue;
        }
        match placer.select(group) {
            (Some(node), metric) => {
                let alloc = rank::new_allocation(&job, group, &node, &placement, eval, metric, ctx);
                placer.record(&alloc);
                plan.append_alloc(alloc);
                plan.queued_allocations
                    .entry(group.name.clone())
                    .or_default();
            }
            (None, metric) => {
                plan.failed_tg_allocs.insert(group.name.clone(), metric);
                *plan
                    .queued_allocations
                    .entry(group.name.clone())
                    .or_default() += 1;
            }
        }
    }
    for group in &job.task_groups {
        plan.queued_allocations
            .entry(group.name.clone())
            .or_default();
    }
    plan
}

#[cfg(test)]
mod tests;
