//! The scheduler: a pure function from a state snapshot and an evaluation to a [`Plan`].
//!
//! System and sysbatch jobs go to [`system`]. For service and batch jobs it follows
//! Nomad's generic scheduler: reconcile what the job
//! wants against the allocations that exist ([`reconcile`]), then place each missing
//! allocation ([`select`]): walk the job's ready nodes in an order shuffled per evaluation,
//! filter them ([`feasible`]), rank them ([`rank`]) and keep the best of the first few
//! (Nomad's limit: 2 for batch jobs, log2 of the node count for service jobs, the group's
//! count up to 100 with affinities or spreads).
//!
//! No I/O, no clock, no global randomness: time and IDs come in through
//! [`SchedulerContext`], and the shuffle is seeded by the evaluation.

pub mod feasible;
pub mod plan_check;
pub mod ports;
pub mod rank;
pub mod reconcile;
pub mod rules;
pub mod select;
pub mod shuffle;
pub mod system;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use caravan_structs::{
    AllocClientStatus, AllocDeploymentStatus, AllocDesiredStatus, AllocId, AllocMetric,
    AllocatedResources, AllocatedSharedResources, AllocatedTaskResources, Allocation, CpuResources,
    Deployment, DeploymentId, EvalId, EvalStatus, EvalTrigger, Evaluation, Job, JobId,
    MemoryResources, Node, NodeId, Plan, ResourceUsage, TaskGroup,
};

pub use rank::SchedulerAlgorithm;
pub use select::{CandidateCache, Candidates};
pub use validate::validate_placement_rules;

/// What the scheduler reads. The server implements it over a state snapshot; tests
/// implement it over plain vectors.
pub trait SchedulerState {
    /// The job, unless it was purged.
    fn job(&self, namespace: &str, id: &JobId) -> Option<Arc<Job>>;
    /// Every allocation of the job, of every version.
    fn allocs_by_job(&self, namespace: &str, id: &JobId) -> Vec<Arc<Allocation>>;
    /// The job's newest deployment, in any status.
    fn latest_deployment(&self, namespace: &str, id: &JobId) -> Option<Arc<Deployment>>;
    /// Every node, in any state, in a stable order (the snapshot's ID order): the
    /// evaluation's shuffle starts from it.
    fn nodes(&self) -> Vec<Arc<Node>>;
    /// The nodes `job` may be placed on, from [`SchedulerState::nodes`]. A state that
    /// evaluates many jobs on the same nodes overrides this with a [`CandidateCache`].
    fn candidates(&self, job: &Job) -> Arc<Candidates> {
        Arc::new(Candidates::new(job, &self.nodes()))
    }
    /// Allocations placed on the node.
    fn allocs_by_node(&self, node_id: &NodeId) -> Vec<Arc<Allocation>>;
    /// One node, in any state. A state with an index overrides this linear search.
    fn node(&self, node_id: &NodeId) -> Option<Arc<Node>> {
        self.nodes().into_iter().find(|n| n.id == *node_id)
    }
    /// What the live allocations on the node hold. A state that keeps the sum
    /// overrides this walk.
    fn node_usage(&self, node_id: &NodeId) -> ResourceUsage {
        ResourceUsage::of_live(self.allocs_by_node(node_id).iter().map(|a| a.as_ref()))
    }
    /// What the live allocations on each of `nodes` hold, handed to `each` with the
    /// node's position. A state that keeps the sums in ID order overrides these
    /// lookups with one walk.
    fn node_usages(&self, nodes: &[Arc<Node>], each: &mut dyn FnMut(usize, ResourceUsage)) {
        for (i, node) in nodes.iter().enumerate() {
            each(i, self.node_usage(&node.id));
        }
    }
    /// The allocation `id` if it is placed on the node. A state with an index
    /// overrides this walk.
    fn alloc_on_node(&self, node_id: &NodeId, id: &AllocId) -> Option<Arc<Allocation>> {
        self.allocs_by_node(node_id)
            .into_iter()
            .find(|a| a.id == *id)
    }
}

/// What the scheduler needs from outside: the time, fresh IDs and the operator's choices.
/// Build it with [`SchedulerContext::new`] so new settings get their defaults.
pub struct SchedulerContext<'a> {
    /// Unix nanoseconds, stamped on new allocations.
    pub now: i64,
    /// Makes a new allocation ID.
    pub new_id: &'a mut dyn FnMut() -> String,
    /// How nodes are scored for fit (`scheduler_algorithm`; default `binpack`).
    pub algorithm: SchedulerAlgorithm,
    /// The index of the state snapshot being scheduled on (0 if unknown). Mixed into the
    /// node shuffle with the evaluation ID, as Nomad does, so an evaluation retried on a
    /// newer state looks at nodes in another order.
    pub snapshot_index: u64,
}

impl<'a> SchedulerContext<'a> {
    /// A context with the default algorithm (`binpack`) and an unknown snapshot index.
    pub fn new(now: i64, new_id: &'a mut dyn FnMut() -> String) -> SchedulerContext<'a> {
        SchedulerContext {
            now,
            new_id,
            algorithm: SchedulerAlgorithm::default(),
            snapshot_index: 0,
        }
    }

    /// The same context scoring fit with `algorithm`.
    pub fn with_algorithm(mut self, algorithm: SchedulerAlgorithm) -> SchedulerContext<'a> {
        self.algorithm = algorithm;
        self
    }

    /// The same context seeded with the snapshot's index.
    pub fn with_snapshot_index(mut self, index: u64) -> SchedulerContext<'a> {
        self.snapshot_index = index;
        self
    }
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
    let system = job
        .as_deref()
        .map_or(eval.r#type.is_system(), Job::is_system);
    if system {
        return system::schedule(state, eval, ctx, plan);
    }
    let existing = state.allocs_by_job(&eval.namespace, &eval.job_id);
    // Reconciliation only asks about the nodes the job's allocations are on.
    let on: BTreeSet<&NodeId> = existing.iter().map(|a| &a.node_id).collect();
    let alloc_nodes: BTreeMap<NodeId, Arc<Node>> = on
        .into_iter()
        .filter_map(|id| state.node(id))
        .map(|n| (n.id.clone(), n))
        .collect();
    // Every rule of the job, compiled once for this evaluation.
    let rules = job.as_deref().map(rules::JobRules::new);
    let latest = state.latest_deployment(&eval.namespace, &eval.job_id);
    let mut changes = reconcile::reconcile(
        rules.as_ref(),
        &existing,
        &alloc_nodes,
        ctx.now,
        latest.as_deref(),
    );
    let deployment_id = match changes.deployment.take() {
        Some(reconcile::DeploymentPlan::Create(mut created)) => {
            created.id = DeploymentId::from((ctx.new_id)());
            let id = created.id.clone();
            plan.deployment = Some(*created);
            Some(id)
        }
        Some(reconcile::DeploymentPlan::Join(id)) => Some(id),
        None => None,
    };
    plan.deployment_updates = std::mem::take(&mut changes.deployment_updates);
    // What new and updated allocations of a group join: the deployment, if the group
    // rolls out under it.
    let deploying: HashSet<String> = plan
        .deployment
        .as_ref()
        .or(latest.as_deref())
        .filter(|d| Some(&d.id) == deployment_id.as_ref())
        .map(|d| d.task_groups.keys().cloned().collect())
        .unwrap_or_default();
    let joins = |group: &str| -> Option<DeploymentId> {
        deployment_id.clone().filter(|_| deploying.contains(group))
    };

    for stop in std::mem::take(&mut changes.stops) {
        plan.append_update(stop);
    }
    for mut update in std::mem::take(&mut changes.in_place) {
        update.job.clone_from(&job);
        // Updated in place into a new rollout: its health is judged again.
        if let Some(id) = joins(&update.task_group)
            && update.deployment_id != id
        {
            update.deployment_id = id;
            update.deployment_status = None;
        }
        plan.append_alloc(update);
    }
    // Failed allocations whose reschedule delay has not passed: a delayed evaluation
    // (Nomad's follow-up eval) brings the job back then; the allocation records it.
    for followup in &changes.followups {
        let id = EvalId::from((ctx.new_id)());
        plan.created_evals.push(Evaluation {
            id: id.clone(),
            namespace: eval.namespace.clone(),
            priority: eval.priority,
            r#type: eval.r#type,
            triggered_by: EvalTrigger::AllocFailure,
            job_id: eval.job_id.clone(),
            status: EvalStatus::Pending,
            status_description: "created for delayed rescheduling".to_string(),
            wait_until: caravan_structs::time::rfc3339(followup.at),
            previous_eval: eval.id.clone(),
            ..Evaluation::default()
        });
        if let Some(alloc) = existing.iter().find(|a| a.id == followup.alloc_id) {
            let mut marked = Allocation::clone(alloc);
            marked.followup_eval_id = id;
            plan.append_alloc(marked);
        }
    }
    let (Some(job), Some(rules)) = (job.as_ref(), rules.as_ref()) else {
        return plan;
    };
    plan.all_at_once = job.all_at_once;
    if changes.placements.is_empty() {
        for group in &job.task_groups {
            plan.queued_allocations
                .entry(group.name.clone())
                .or_default();
        }
        return plan;
    }
    let seed = shuffle::seed(eval.id.as_str(), ctx.snapshot_index ^ eval.snapshot_index);
    let mut placer = select::Placer::new(
        state,
        rules,
        state.candidates(job),
        &alloc_nodes,
        &existing,
        &plan,
        ctx.algorithm,
        seed,
    );
    for placements in &changes.placements {
        let Some(group) = job.group(&placements.group) else {
            continue;
        };
        let deployment = joins(&group.name);
        let mut remaining = placements.total();
        let canaries = placements.canary_placements().map(|p| (p, true));
        let regular = placements.iter().map(|p| (p, false));
        for (placement, canary) in canaries.chain(regular) {
            if let Some(metric) = plan.failed_tg_allocs.get_mut(&group.name) {
                // Nomad: once a group failed in this evaluation, later copies only
                // count; they are counted here, not tried (or even built) one by one.
                metric.coalesced_failures += remaining as i64;
                *plan
                    .queued_allocations
                    .entry(group.name.clone())
                    .or_default() += remaining as i64;
                break;
            }
            remaining -= 1;
            let joining = deployment.as_ref().map(|id| (id, canary));
            place(
                &mut plan,
                &mut placer,
                job,
                group,
                &placement,
                joining,
                eval,
                ctx,
            );
        }
    }
    for group in &job.task_groups {
        plan.queued_allocations
            .entry(group.name.clone())
            .or_default();
    }
    plan
}

/// Places one allocation of `group` (joining `deployment`, as a canary or not), or
/// records why it cannot be placed.
#[allow(clippy::too_many_arguments)]
fn place(
    plan: &mut Plan,
    placer: &mut select::Placer<'_>,
    job: &Arc<Job>,
    group: &TaskGroup,
    placement: &reconcile::Placement,
    deployment: Option<(&DeploymentId, bool)>,
    eval: &Evaluation,
    ctx: &mut SchedulerContext<'_>,
) {
    // Nomad: a rescheduled allocation avoids the nodes its line failed on.
    placer.set_penalty_nodes(
        placement
            .reschedule
            .iter()
            .flat_map(|t| t.events.iter().map(|e| e.prev_node_id.clone()))
            .collect(),
    );
    match placer.select(group) {
        (Some(selected), metric) => {
            let mut alloc = new_allocation(job, group, &selected, placement, eval, metric, ctx);
            if let Some((id, canary)) = deployment {
                alloc.deployment_id = id.clone();
                alloc.deployment_status = canary.then(|| AllocDeploymentStatus {
                    canary: true,
                    ..AllocDeploymentStatus::default()
                });
            }
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

/// A new allocation of `group` on `node`.
pub(crate) fn new_allocation(
    job: &Arc<Job>,
    group: &TaskGroup,
    selected: &select::Selected,
    placement: &reconcile::Placement,
    eval: &Evaluation,
    metric: AllocMetric,
    ctx: &mut SchedulerContext<'_>,
) -> Allocation {
    let tasks = group
        .tasks
        .iter()
        .map(|task| {
            let resources = AllocatedTaskResources {
                cpu: CpuResources {
                    cpu_shares: task.resources.cpu,
                },
                memory: MemoryResources {
                    memory_mb: task.resources.memory_mb,
                    memory_max_mb: task.resources.memory_max_mb,
                },
            };
            (task.name.clone(), resources)
        })
        .collect();
    let node = &selected.node;
    // Nomad records the group network only when the group has one.
    let networks = group
        .networks
        .first()
        .map(|ask| ports::placed_network(ask, &selected.ports, ports::node_ip(node)))
        .into_iter()
        .collect();
    Allocation {
        id: (ctx.new_id)().into(),
        namespace: job.namespace.clone(),
        eval_id: eval.id.clone(),
        name: format!("{}.{}[{}]", job.id, group.name, placement.index),
        node_id: node.id.clone(),
        node_name: node.name.clone(),
        job_id: job.id.clone(),
        job: Some(Arc::clone(job)),
        task_group: group.name.clone(),
        allocated_resources: AllocatedResources {
            tasks,
            shared: AllocatedSharedResources {
                disk_mb: group.ephemeral_disk.size_mb,
                networks,
                ports: selected.ports.clone(),
            },
        },
        metrics: Arc::new(metric),
        desired_status: AllocDesiredStatus::Run,
        client_status: AllocClientStatus::Pending,
        previous_allocation: placement.previous.clone().unwrap_or_default(),
        reschedule_tracker: placement.reschedule.clone(),
        create_time: ctx.now,
        modify_time: ctx.now,
        ..Allocation::default()
    }
}

#[cfg(test)]
mod tests;
