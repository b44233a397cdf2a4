//! The commands that change state, and how each is applied.

use std::collections::BTreeSet;
use std::sync::Arc;

use caravan_structs::validate::{check_enforced_index, check_job_update};
use caravan_structs::{
    AllocClientStatus, AllocClientUpdate, AllocDesiredStatus, AllocId, Allocation, Deployment,
    DeploymentId, DeploymentStatusUpdate, EvalId, EvalStatus, Evaluation, Job, JobId, Node,
    NodeEligibility, NodeEvent, NodeId, NodeStatus, ScalingEvent,
};
use serde::{Deserialize, Serialize};

use crate::snapshot::{JOB_TRACKED_VERSIONS, JobKey, Snapshot};
use crate::summary;

/// One write. Everything a write needs (times, IDs) is inside it, so applying it is
/// deterministic: the same commands in the same order give the same state.
// Commands live for one apply; boxing the big variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Command {
    /// Register or update a job, with the evaluation it triggers. Refused when the job
    /// breaks Nomad's update rules against the stored version, or, with
    /// `enforce_index` (`job run -check-index`), when the stored job modify index is
    /// not that one: both checked here, under the writer, so no write slips between.
    JobRegister {
        job: Job,
        eval: Option<Evaluation>,
        now: i64,
        #[serde(default)]
        enforce_index: Option<u64>,
    },
    /// `job scale`: with `job`, the job at its new count (a new version, checked as a
    /// registration, over the job modify index the server read: `enforce_index`) and
    /// its evaluation; without, only the event (an autoscaler reporting). Either way
    /// the group's scaling event, all in one write.
    JobScale {
        namespace: String,
        job_id: JobId,
        group: String,
        job: Option<Job>,
        eval: Option<Evaluation>,
        event: ScalingEvent,
        enforce_index: Option<u64>,
        now: i64,
    },
    /// Stop a job (or remove it, with `purge`), with the evaluation it triggers.
    JobDeregister {
        namespace: String,
        job_id: JobId,
        purge: bool,
        eval: Option<Evaluation>,
        now: i64,
    },
    /// Create or update evaluations.
    EvalsUpsert { evals: Vec<Evaluation> },
    /// Capacity may have appeared: the named evaluations that are still `blocked` become
    /// `pending`. Checked here, under the writer, so an evaluation that finished or was
    /// cancelled since the caller looked is left as it is.
    EvalsUnblock { ids: Vec<EvalId>, now: i64 },
    /// The committed part of a scheduler plan: new and changed allocations, the
    /// allocations it stops, the deployment it creates and the deployment status changes
    /// it makes, and the evaluation updates that go with them. Built normalized by
    /// [`Command::plan_apply`] (Nomad's `ApplyPlanResultsRequest`): the job once, not a
    /// copy per allocation, and stops as what they change, so a count = 1000 plan's log
    /// entry grows with its allocations' own fields, not with 1000 jobs.
    PlanApply {
        /// The job the plan's allocations run: an allocation in `allocs` without a job
        /// runs this one (linked to the stored version's `Arc` when applied).
        #[serde(default)]
        job: Option<Arc<Job>>,
        allocs: Vec<Allocation>,
        /// Allocations the plan stops or marks lost, applied to the stored allocation;
        /// one no longer stored (collected meanwhile) is skipped, as in Nomad.
        #[serde(default)]
        stopped: Vec<AllocStopped>,
        evals: Vec<Evaluation>,
        now: i64,
        #[serde(default)]
        deployment: Option<Deployment>,
        #[serde(default)]
        deployment_updates: Vec<DeploymentStatusUpdate>,
    },
    /// Task and allocation status reported by a client, in one write with what it
    /// causes: the evaluations of jobs whose allocations just failed (their reschedule
    /// policies' turn), and the end of a drain whose node has nothing left running.
    AllocClientUpdate {
        updates: Vec<AllocClientUpdate>,
        now: i64,
        #[serde(default)]
        evals: Vec<Evaluation>,
    },
    /// Register a node, or update one that re-registers, with the evaluations its
    /// arrival causes (the system jobs it may now run).
    NodeRegister {
        node: Node,
        now: i64,
        #[serde(default)]
        evals: Vec<Evaluation>,
    },
    /// Change a node's status (`ready`, `down`), with an event for its history and the
    /// evaluations the change causes (a down node's jobs, a returning node's system jobs).
    NodeUpdateStatus {
        node_id: NodeId,
        status: NodeStatus,
        event: Option<NodeEvent>,
        now: i64,
        #[serde(default)]
        evals: Vec<Evaluation>,
    },
    /// Start or end a node's drain, with the evaluations that migrate its work (or place
    /// system jobs on it again). Draining makes it ineligible; ending a drain makes it
    /// eligible again only with `eligible`.
    NodeUpdateDrain {
        node_id: NodeId,
        drain: bool,
        /// The drain's strategy, kept on the node until the drain is done.
        #[serde(default)]
        strategy: Option<caravan_structs::DrainStrategy>,
        eligible: bool,
        event: Option<NodeEvent>,
        now: i64,
        #[serde(default)]
        evals: Vec<Evaluation>,
    },
    /// Mark a node (in)eligible for new placements, with the evaluations that follow
    /// (system jobs on a node made eligible).
    NodeUpdateEligibility {
        node_id: NodeId,
        eligibility: NodeEligibility,
        event: Option<NodeEvent>,
        now: i64,
        #[serde(default)]
        evals: Vec<Evaluation>,
    },
    /// End the drains of these nodes that have nothing left running (Nomad's drainer
    /// marking drains complete); a node still running something is left as it is.
    NodeDrainComplete { node_ids: Vec<NodeId>, now: i64 },
    /// Replace the scheduler configuration (`PUT /v1/operator/scheduler/configuration`);
    /// its create and modify indexes are set here.
    SchedulerSetConfig {
        config: caravan_structs::SchedulerConfiguration,
    },
    /// Remove what the garbage collector chose (Nomad's core scheduler reaping):
    /// terminal evaluations and allocations, dead jobs with their versions and
    /// summaries, down nodes. IDs that are already gone are skipped.
    GarbageCollect {
        evals: Vec<EvalId>,
        allocs: Vec<AllocId>,
        jobs: Vec<(String, JobId)>,
        nodes: Vec<NodeId>,
        #[serde(default)]
        deployments: Vec<DeploymentId>,
    },
    /// Replace the whole state with an operator's snapshot (`operator snapshot
    /// restore`). Every table is written at this command's index, or just above the
    /// restored state's when that is higher, so every blocking query wakes and indexes
    /// keep growing past the restored ones.
    RestoreSnapshot { state: Box<Snapshot> },
    /// A write to the ACL and namespace tables.
    Security(crate::security::SecurityCommand),
    /// A write to the deployments table.
    Deployment(crate::deployments::DeploymentCommand),
    /// Derive every job's status and summary again from its allocations and evaluations
    /// (`system reconcile summaries`).
    ReconcileSummaries,
    /// Set what the servers should do with allocations (`alloc stop`), with the
    /// evaluations that carry it out. IDs already gone are skipped.
    AllocDesiredTransition {
        transitions: Vec<(AllocId, caravan_structs::DesiredTransition)>,
        evals: Vec<Evaluation>,
        now: i64,
    },
    /// A write to the service registrations table.
    Services(crate::services::ServiceCommand),
    /// A write to the variables or the servers' keyring.
    Variables(crate::variables::VariableCommand),
}

/// An allocation a plan stops (or marks lost), as the log carries it: its ID and what
/// the scheduler changed (Nomad's `AllocationDiff` in `AllocsStopped`). The rest is the
/// stored allocation's when the entry is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocStopped {
    pub id: AllocId,
    pub desired_status: AllocDesiredStatus,
    pub desired_description: String,
    /// Set when the plan marks the allocation lost (its node is down): the only client
    /// status a plan may write over the client's own.
    #[serde(default)]
    pub lost: Option<String>,
}

impl AllocStopped {
    /// What the scheduler's stopped copy of an allocation changes.
    pub fn of(stop: &Allocation) -> AllocStopped {
        AllocStopped {
            id: stop.id.clone(),
            desired_status: stop.desired_status,
            desired_description: stop.desired_description.clone(),
            lost: (stop.client_status == AllocClientStatus::Lost)
                .then(|| stop.client_description.clone()),
        }
    }

    /// The stored allocation with this stop applied.
    fn applied_to(self, stored: &Allocation) -> Allocation {
        let mut alloc = stored.clone();
        alloc.desired_status = self.desired_status;
        alloc.desired_description = self.desired_description;
        if let Some(description) = self.lost {
            alloc.client_status = AllocClientStatus::Lost;
            alloc.client_description = description;
        }
        alloc
    }
}

impl Command {
    /// A scheduler plan's write, normalized for the log: the placed and updated
    /// allocations that run the plan's job (the same `Arc` as the first of them) carry
    /// no copy of it, the job goes once, and `stops` become [`AllocStopped`]s.
    /// Allocations of another job version (a failed one marked with its follow-up
    /// evaluation) keep their own copy.
    pub fn plan_apply(
        stops: &[Allocation],
        mut placements: Vec<Allocation>,
        evals: Vec<Evaluation>,
        now: i64,
        deployment: Option<Deployment>,
        deployment_updates: Vec<DeploymentStatusUpdate>,
    ) -> Command {
        let job = placements.iter().find_map(|a| a.job.clone());
        if let Some(job) = &job {
            for alloc in &mut placements {
                if alloc.job.as_ref().is_some_and(|j| Arc::ptr_eq(j, job)) {
                    alloc.job = None;
                }
            }
        }
        Command::PlanApply {
            job,
            allocs: placements,
            stopped: stops.iter().map(AllocStopped::of).collect(),
            evals,
            now,
            deployment,
            deployment_updates,
        }
    }

    /// The evaluations this command writes, in the order it writes them: what the
    /// leader hands to its eval broker once the command is applied.
    pub fn evals(&self) -> Vec<&Evaluation> {
        match self {
            Command::JobRegister { eval, .. }
            | Command::JobDeregister { eval, .. }
            | Command::JobScale { eval, .. } => eval.iter().collect(),
            Command::EvalsUpsert { evals }
            | Command::PlanApply { evals, .. }
            | Command::AllocClientUpdate { evals, .. }
            | Command::NodeRegister { evals, .. }
            | Command::NodeUpdateStatus { evals, .. }
            | Command::NodeUpdateDrain { evals, .. }
            | Command::NodeUpdateEligibility { evals, .. } => evals.iter().collect(),
            Command::Deployment(command) => command.eval().into_iter().collect(),
            Command::AllocDesiredTransition { evals, .. } => evals.iter().collect(),
            Command::ReconcileSummaries => Vec::new(),
            Command::NodeDrainComplete { .. }
            | Command::EvalsUnblock { .. }
            | Command::SchedulerSetConfig { .. }
            | Command::GarbageCollect { .. }
            | Command::RestoreSnapshot { .. }
            | Command::Security(_)
            | Command::Services(_)
            | Command::Variables(_) => Vec::new(),
        }
    }
}

/// Why a command was not applied: it would break a rule against the state it met. The
/// state is unchanged and no index is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Snapshot {
    /// What `command` must not do to this state.
    pub(crate) fn check(&self, command: &Command) -> Result<(), Refused> {
        if let Command::Security(security) = command {
            return self.check_security(security);
        }
        if let Command::Deployment(deployment) = command {
            return self.check_deployment(deployment);
        }
        if let Command::Variables(variables) = command {
            return self.check_variables(variables);
        }
        if let Command::JobScale {
            namespace,
            job_id,
            job: None,
            ..
        } = command
            && !self.jobs.contains_key(&(namespace.clone(), job_id.clone()))
        {
            // Purged since the server read it: no event for a job that is gone.
            return Err(Refused(format!("job {:?} not found", job_id.as_str())));
        }
        let registered = match command {
            Command::JobRegister {
                job, enforce_index, ..
            } => Some((job, enforce_index)),
            Command::JobScale {
                job: Some(job),
                enforce_index,
                ..
            } => Some((job, enforce_index)),
            _ => None,
        };
        if let Some((job, enforce_index)) = registered {
            if self.namespace(&job.namespace).is_none() {
                return Err(Refused(format!(
                    "job {:?} is in nonexistent namespace {:?}",
                    job.id.as_str(),
                    job.namespace
                )));
            }
            let stored = self.jobs.get(&(job.namespace.clone(), job.id.clone()));
            if let Some(expected) = enforce_index {
                check_enforced_index(*expected, stored.map(|j| j.job_modify_index))
                    .map_err(Refused)?;
            }
            check_job_update(stored.map(|j| &**j), job).map_err(Refused)?;
        }
        Ok(())
    }

    pub(crate) fn apply(&mut self, command: Command, index: u64) {
        self.allocs_changed_on.0.clear();
        self.allocs_written.0.clear();
        let mut touched_jobs = BTreeSet::new();
        // Parents whose children changed: their `Children` counts are derived again.
        let mut touched_parents = BTreeSet::new();
        match command {
            Command::RestoreSnapshot { state } => {
                *self = *state;
                // Above every index the restored objects carry, so that what clients
                // and blocking queries have seen is never ahead of what comes next.
                let index = index.max(self.index + 1);
                self.index = index;
                self.alloc_removals = crate::snapshot::AllocRemovals::known_from(index);
                self.table_index = crate::snapshot::TableIndexes {
                    jobs: index,
                    evals: index,
                    allocs: index,
                    nodes: index,
                    job_summary: index,
                    services: index,
                };
                self.security.index = crate::security::SecurityIndexes::all_at(index);
                self.deployments.index = index;
                self.scaling.index = crate::scaling::ScalingIndexes::all_at(index);
                self.variables.index = index;
                self.variables.keyring_index = index;
                return;
            }
            Command::Deployment(deployment) => {
                touched_jobs = self.apply_deployment(deployment, index);
            }
            Command::ReconcileSummaries => {
                touched_jobs.extend(self.jobs.keys().cloned());
            }
            Command::AllocDesiredTransition {
                transitions,
                evals,
                now,
            } => {
                for (id, transition) in transitions {
                    let Some(existing) = self.allocs.get(&id).cloned() else {
                        continue;
                    };
                    let mut alloc = Allocation::clone(&existing);
                    alloc.desired_transition = transition;
                    alloc.modify_index = index;
                    alloc.modify_time = now;
                    self.store_alloc(Arc::new(alloc));
                    self.table_index.allocs = index;
                }
                self.upsert_evals(evals, now, index, &mut touched_jobs);
            }
            Command::Security(security) => {
                self.apply_security(security, index);
                return;
            }
            Command::Services(services) => {
                self.apply_services(services, index);
                return;
            }
            Command::Variables(variables) => {
                self.apply_variables(variables, index);
                return;
            }
            Command::JobRegister { job, eval, now, .. } => {
                let key = (job.namespace.clone(), job.id.clone());
                self.sync_scaling_policies(&job, index);
                self.upsert_job(job, now, index);
                if let Some(eval) = eval {
                    self.upsert_eval(eval, now, index);
                }
                touched_jobs.insert(key);
            }
            Command::JobScale {
                namespace,
                job_id,
                group,
                job,
                eval,
                event,
                now,
                ..
            } => {
                let key = (namespace, job_id);
                if let Some(job) = job {
                    self.sync_scaling_policies(&job, index);
                    self.upsert_job(job, now, index);
                }
                if let Some(eval) = eval {
                    self.upsert_eval(eval, now, index);
                }
                self.add_scaling_event(key.clone(), group, event, index);
                touched_jobs.insert(key);
            }
            Command::JobDeregister {
                namespace,
                job_id,
                purge,
                eval,
                now,
            } => {
                let key = (namespace.clone(), job_id.clone());
                if purge {
                    // Nomad: purging a parent leaves its children alone; purging a child
                    // updates its parent's counts.
                    if let Some(parent) = self
                        .jobs
                        .get(&key)
                        .filter(|j| !j.parent_id.is_empty())
                        .map(|j| (j.namespace.clone(), j.parent_id.clone()))
                    {
                        touched_parents.insert(parent);
                    }
                    self.jobs.remove(&key);
                    self.job_versions.remove(&key);
                    self.job_summaries.remove(&key);
                    self.remove_job_scaling(&key, index);
                    self.table_index.jobs = index;
                    self.table_index.job_summary = index;
                } else if let Some(existing) = self.jobs.get(&key).cloned() {
                    let mut stopped = Job::clone(&existing);
                    stopped.stop = true;
                    self.upsert_job(stopped, now, index);
                    touched_jobs.insert(key.clone());
                }
                if let Some(eval) = eval {
                    self.upsert_eval(eval, now, index);
                }
            }
            Command::EvalsUpsert { evals } => {
                for eval in evals {
                    touched_jobs.insert((eval.namespace.clone(), eval.job_id.clone()));
                    let now = eval.modify_time;
                    self.upsert_eval(eval, now, index);
                }
            }
            Command::EvalsUnblock { ids, now } => {
                let unblocked: Vec<Evaluation> = ids
                    .iter()
                    .filter_map(|id| self.evals.get(id))
                    .filter(|eval| eval.status == EvalStatus::Blocked)
                    .map(|eval| Evaluation {
                        status: EvalStatus::Pending,
                        modify_time: now,
                        ..Evaluation::clone(eval)
                    })
                    .collect();
                self.upsert_evals(unblocked, now, index, &mut touched_jobs);
            }
            Command::PlanApply {
                job,
                allocs,
                stopped,
                evals,
                now,
                deployment,
                deployment_updates,
            } => {
                if let Some(deployment) = deployment {
                    self.upsert_deployment(deployment, now, index);
                }
                for update in &deployment_updates {
                    self.update_deployment_status(update, now, index);
                }
                let stopped = stopped.into_iter().filter_map(|stop| {
                    let stored = self.allocs.get(&stop.id)?;
                    Some(stop.applied_to(stored))
                });
                // Stops first, as the scheduler listed them.
                let stopped: Vec<Allocation> = stopped.collect();
                let placed = allocs.into_iter().map(|mut alloc| {
                    if alloc.job.is_none() {
                        alloc.job.clone_from(&job);
                    }
                    alloc
                });
                let mut lost_on = BTreeSet::new();
                for alloc in stopped.into_iter().chain(placed) {
                    touched_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                    self.count_placement(&alloc, now, index);
                    if alloc.client_status == AllocClientStatus::Lost {
                        self.remove_alloc_services(&alloc.id, index);
                        lost_on.insert(alloc.node_id.clone());
                    }
                    self.upsert_alloc(alloc, now, index);
                }
                self.upsert_evals(evals, now, index, &mut touched_jobs);
                // A draining node that went down is done draining once what it ran is
                // lost: Nomad's drainer counts lost allocations as finished.
                for node_id in lost_on {
                    self.complete_drain(&node_id, now, index);
                }
            }
            Command::AllocClientUpdate {
                updates,
                now,
                evals,
            } => {
                let mut nodes = BTreeSet::new();
                for update in updates {
                    let Some(existing) = self.allocs.get(&update.id).cloned() else {
                        continue;
                    };
                    let mut alloc = Allocation::clone(&existing);
                    // Nomad: a lost allocation stays lost whatever a late client says.
                    if alloc.client_status != AllocClientStatus::Lost {
                        alloc.client_status = update.client_status;
                        alloc.client_description = update.client_description;
                    }
                    alloc.task_states = update.task_states;
                    if let Some(status) = update.deployment_status {
                        self.record_alloc_health(&mut alloc, status, now, index);
                    }
                    alloc.modify_index = index;
                    alloc.modify_time = now;
                    touched_jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
                    nodes.insert(alloc.node_id.clone());
                    if alloc.client_terminal() {
                        self.remove_alloc_services(&alloc.id, index);
                    }
                    self.store_alloc(Arc::new(alloc));
                }
                self.table_index.allocs = index;
                self.upsert_evals(evals, now, index, &mut touched_jobs);
                for node_id in nodes {
                    self.complete_drain(&node_id, now, index);
                }
            }
            Command::NodeRegister {
                mut node,
                now,
                evals,
            } => {
                match self.nodes.get(&node.id) {
                    Some(existing) => {
                        node.create_index = existing.create_index;
                        let mut events = existing.events.clone();
                        events.append(&mut node.events);
                        node.events = trim_events(events);
                    }
                    None => node.create_index = index,
                }
                node.modify_index = index;
                node.status_updated_at = now / caravan_structs::SECOND_NS;
                // Whatever the client sent: only a registration changes what the class
                // covers, and every server computes the same one.
                node.computed_class = node.compute_class();
                for event in &mut node.events {
                    if event.create_index == 0 {
                        event.create_index = index;
                    }
                }
                self.nodes.insert(node.id.clone(), Arc::new(node));
                self.table_index.nodes = index;
                self.upsert_evals(evals, now, index, &mut touched_jobs);
            }
            Command::NodeUpdateStatus {
                node_id,
                status,
                event,
                now,
                evals,
            } => {
                if let Some(existing) = self.nodes.get(&node_id).cloned() {
                    let mut node = Node::clone(&existing);
                    if status == NodeStatus::Down {
                        self.remove_node_services(&node_id, index);
                    }
                    node.status = status;
                    node.status_updated_at = now / caravan_structs::SECOND_NS;
                    self.push_node_event(&mut node, event, index);
                    node.modify_index = index;
                    self.nodes.insert(node_id, Arc::new(node));
                    self.table_index.nodes = index;
                }
                self.upsert_evals(evals, now, index, &mut touched_jobs);
            }
            Command::NodeUpdateDrain {
                node_id,
                drain,
                strategy,
                eligible,
                event,
                now,
                evals,
            } => {
                if let Some(existing) = self.nodes.get(&node_id).cloned() {
                    let mut node = Node::clone(&existing);
                    node.drain = drain;
                    node.drain_strategy = if drain { strategy } else { None };
                    if drain {
                        node.scheduling_eligibility = NodeEligibility::Ineligible;
                    } else if eligible {
                        node.scheduling_eligibility = NodeEligibility::Eligible;
                    }
                    self.push_node_event(&mut node, event, index);
                    node.modify_index = index;
                    self.nodes.insert(node_id.clone(), Arc::new(node));
                    self.table_index.nodes = index;
                    // A node with nothing running is drained at once.
                    self.complete_drain(&node_id, now, index);
                }
                self.upsert_evals(evals, now, index, &mut touched_jobs);
            }
            Command::NodeUpdateEligibility {
                node_id,
                eligibility,
                event,
                now,
                evals,
            } => {
                if let Some(existing) = self.nodes.get(&node_id).cloned() {
                    let mut node = Node::clone(&existing);
                    node.scheduling_eligibility = eligibility;
                    self.push_node_event(&mut node, event, index);
                    node.modify_index = index;
                    self.nodes.insert(node_id, Arc::new(node));
                    self.table_index.nodes = index;
                }
                self.upsert_evals(evals, now, index, &mut touched_jobs);
            }
            Command::NodeDrainComplete { node_ids, now } => {
                for node_id in node_ids {
                    self.complete_drain(&node_id, now, index);
                }
            }
            Command::SchedulerSetConfig { mut config } => {
                config.create_index = self
                    .scheduler_config
                    .as_ref()
                    .map_or(index, |c| c.create_index);
                config.modify_index = index;
                self.scheduler_config = Some(Arc::new(config));
            }
            Command::GarbageCollect {
                evals,
                allocs,
                jobs,
                nodes,
                deployments,
            } => {
                self.remove_deployments(&deployments, index);
                self.collect(evals, allocs, jobs, nodes, index, &mut touched_parents);
            }
        }
        for key in &touched_jobs {
            self.refresh_job(key, index);
            if let Some(job) = self.jobs.get(key)
                && !job.parent_id.is_empty()
            {
                touched_parents.insert((job.namespace.clone(), job.parent_id.clone()));
            }
        }
        for key in touched_parents {
            self.refresh_job(&key, index);
        }
    }

    fn collect(
        &mut self,
        evals: Vec<EvalId>,
        allocs: Vec<AllocId>,
        jobs: Vec<(String, JobId)>,
        nodes: Vec<NodeId>,
        index: u64,
        touched_parents: &mut BTreeSet<JobKey>,
    ) {
        fn unindex<K: Ord + Clone>(
            map: &mut imbl::OrdMap<JobKey, imbl::OrdSet<K>>,
            key: JobKey,
            id: &K,
        ) {
            if let Some(set) = map.get_mut(&key) {
                set.remove(id);
                if set.is_empty() {
                    map.remove(&key);
                }
            }
        }
        for id in &allocs {
            let Some(alloc) = self.remove_alloc(id) else {
                continue;
            };
            self.remove_alloc_services(id, index);
            // The node's client learns of the removal through its long-poll, which
            // lists all of the node's allocations again.
            self.node_allocs_changed(&alloc.node_id, index);
            self.alloc_removals
                .by_node
                .insert(alloc.node_id.clone(), index);
            self.table_index.allocs = index;
        }
        for id in &evals {
            let Some(eval) = self.evals.remove(id) else {
                continue;
            };
            unindex(
                &mut self.evals_by_job,
                (eval.namespace.clone(), eval.job_id.clone()),
                id,
            );
            self.table_index.evals = index;
        }
        for key in jobs {
            let Some(job) = self.jobs.remove(&key) else {
                continue;
            };
            if !job.parent_id.is_empty() {
                touched_parents.insert((job.namespace.clone(), job.parent_id.clone()));
            }
            self.job_versions.remove(&key);
            self.job_summaries.remove(&key);
            self.remove_job_scaling(&key, index);
            self.table_index.jobs = index;
            self.table_index.job_summary = index;
        }
        for id in &nodes {
            if self.nodes.remove(id).is_some() {
                self.node_allocs_index.remove(id);
                self.alloc_removals.by_node.remove(id);
                self.table_index.nodes = index;
            }
        }
    }

    /// Nomad's drainer: a draining node with nothing left running is done draining (it
    /// stays ineligible until an operator says otherwise).
    fn complete_drain(&mut self, node_id: &NodeId, now: i64, index: u64) {
        let Some(existing) = self.nodes.get(node_id).filter(|n| n.drain).cloned() else {
            return;
        };
        let all_done = !self
            .allocs_by_node(node_id)
            .iter()
            .any(|a| existing.drain_waits_for(a));
        if !all_done {
            return;
        }
        let mut node = Node::clone(&existing);
        node.drain = false;
        node.drain_strategy = None;
        let event = NodeEvent {
            message: "Node drain complete".to_string(),
            subsystem: "Cluster".to_string(),
            timestamp: caravan_structs::time::rfc3339(now),
            ..NodeEvent::default()
        };
        self.push_node_event(&mut node, Some(event), index);
        node.modify_index = index;
        self.nodes.insert(node_id.clone(), Arc::new(node));
        self.table_index.nodes = index;
    }

    fn push_node_event(&self, node: &mut Node, event: Option<NodeEvent>, index: u64) {
        if let Some(mut event) = event {
            event.create_index = index;
            node.events.push(event);
            node.events = trim_events(std::mem::take(&mut node.events));
        }
    }

    pub(crate) fn upsert_job(&mut self, mut job: Job, now: i64, index: u64) {
        let key = (job.namespace.clone(), job.id.clone());
        match self.jobs.get(&key) {
            Some(existing) => {
                job.create_index = existing.create_index;
                if existing.spec_equal(&job) {
                    // Nomad: an unchanged re-submission keeps its version.
                    job.version = existing.version;
                    job.job_modify_index = existing.job_modify_index;
                    job.submit_time = existing.submit_time;
                    job.stable = existing.stable;
                } else {
                    // A new version is stable only once a deployment says so.
                    job.stable = false;
                    job.version = existing.version + 1;
                    job.job_modify_index = index;
                    job.submit_time = now;
                }
            }
            None => {
                // A purged job registered again continues its version numbers only if
                // versions survive; they do not, so it starts over like Nomad's.
                job.create_index = index;
                job.job_modify_index = index;
                job.version = 0;
                job.submit_time = now;
            }
        }
        job.modify_index = index;
        job.status = self.jobs.get(&key).and_then(|j| j.status);
        let job = Arc::new(job);
        let versions = self.job_versions.entry(key.clone()).or_default();
        if versions.front().map(|v| v.version) == Some(job.version) {
            versions.pop_front();
        }
        versions.push_front(job.clone());
        versions.truncate(JOB_TRACKED_VERSIONS);
        self.jobs.insert(key, job);
        self.table_index.jobs = index;
    }

    /// Writes evaluations that come with a node command, noting their jobs.
    fn upsert_evals(
        &mut self,
        evals: Vec<Evaluation>,
        now: i64,
        index: u64,
        touched_jobs: &mut BTreeSet<JobKey>,
    ) {
        for eval in evals {
            touched_jobs.insert((eval.namespace.clone(), eval.job_id.clone()));
            self.upsert_eval(eval, now, index);
        }
    }

    pub(crate) fn upsert_eval(&mut self, mut eval: Evaluation, now: i64, index: u64) {
        match self.evals.get(&eval.id) {
            Some(existing) => {
                eval.create_index = existing.create_index;
                eval.create_time = existing.create_time;
            }
            None => {
                eval.create_index = index;
                if eval.create_time == 0 {
                    eval.create_time = now;
                }
            }
        }
        eval.modify_index = index;
        if eval.modify_time == 0 || eval.modify_time < now {
            eval.modify_time = now;
        }
        let key = (eval.namespace.clone(), eval.job_id.clone());
        self.evals_by_job
            .entry(key)
            .or_default()
            .insert(eval.id.clone());
        self.evals.insert(eval.id.clone(), Arc::new(eval));
        self.table_index.evals = index;
    }

    fn upsert_alloc(&mut self, mut alloc: Allocation, now: i64, index: u64) {
        let key = (alloc.namespace.clone(), alloc.job_id.clone());
        let existing = self.allocs.get(&alloc.id).cloned();
        if let Some(job) = alloc.job.take() {
            alloc.job = Some(self.shared_job(&key, job, existing.as_deref()));
        }
        match existing {
            Some(existing) => {
                alloc.create_index = existing.create_index;
                alloc.create_time = existing.create_time;
                // The client owns these; a scheduler update must not roll them back.
                if alloc.client_status != AllocClientStatus::Lost {
                    alloc.client_status = existing.client_status;
                    alloc.client_description = existing.client_description.clone();
                }
                alloc.task_states = existing.task_states.clone();
                // So is an allocation's health, unless it joined another deployment.
                if alloc.deployment_id == existing.deployment_id {
                    alloc.deployment_status = existing.deployment_status.clone();
                }
            }
            None => {
                alloc.create_index = index;
                alloc.create_time = now;
                // Nomad links a replacement's predecessor to it (`NextAllocation`). Most
                // allocations replace none: no search of the table for the empty ID.
                let previous = (!alloc.previous_allocation.is_empty())
                    .then(|| self.allocs.get(&alloc.previous_allocation).cloned())
                    .flatten();
                if let Some(previous) = previous {
                    let mut previous = Allocation::clone(&previous);
                    previous.next_allocation = alloc.id.clone();
                    previous.modify_index = index;
                    self.store_alloc(Arc::new(previous));
                }
            }
        }
        alloc.modify_index = index;
        alloc.alloc_modify_index = index;
        alloc.modify_time = now;
        self.node_allocs_changed(&alloc.node_id, index);
        self.store_alloc(Arc::new(alloc));
        self.table_index.allocs = index;
    }

    /// Recomputes a job's status and summary after its allocations or evaluations changed.
    fn refresh_job(&mut self, key: &JobKey, index: u64) {
        let Some(job) = self.jobs.get(key).cloned() else {
            return;
        };
        // Read in place: a job may have thousands of allocations, and every write to
        // one of them comes here.
        let ids = self.allocs_by_job.get(key).cloned().unwrap_or_default();
        let evals = self.evals_by_job(&key.0, &key.1);
        // Stops at the first live allocation, so a running job reads one.
        let allocs = ids.iter().filter_map(|id| self.allocs.get(id));
        let status = summary::job_status(&job, allocs, &evals);
        if job.status != Some(status) {
            let mut updated = Job::clone(&job);
            updated.status = Some(status);
            updated.modify_index = index;
            let updated = Arc::new(updated);
            if let Some(front) = self.job_versions.get_mut(key).and_then(|v| v.front_mut())
                && front.version == updated.version
            {
                *front = updated.clone();
            }
            self.jobs.insert(key.clone(), updated);
            self.table_index.jobs = index;
        }
        // Queued counts come from the newest evaluation the scheduler finished.
        let queued = evals
            .iter()
            .filter(|e| e.status != EvalStatus::Pending && !e.queued_allocations.is_empty())
            .max_by_key(|e| e.modify_index)
            .map(|e| e.queued_allocations.clone())
            .unwrap_or_default();
        let previous = self.job_summaries.get(key).cloned();
        let children = if job.is_periodic() || job.is_parameterized() {
            summary::children_summary(self.children(&key.0, &key.1).iter().map(|j| &**j))
        } else {
            Default::default()
        };
        let summary = summary::job_summary(
            &job,
            self.alloc_counts(key),
            &queued,
            children,
            previous.as_deref(),
            index,
        );
        if previous.as_deref().map(|p| (&p.summary, &p.children))
            != Some((&summary.summary, &summary.children))
        {
            self.job_summaries.insert(key.clone(), Arc::new(summary));
            self.table_index.job_summary = index;
        }
    }
}

/// Nomad keeps the last 10 node events.
fn trim_events(mut events: Vec<NodeEvent>) -> Vec<NodeEvent> {
    let excess = events.len().saturating_sub(10);
    events.drain(..excess);
    events
}
