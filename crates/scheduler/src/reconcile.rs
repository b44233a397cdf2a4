//! Reconciliation: what a job wants against the allocations it has.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use caravan_structs::{
    AllocClientStatus, AllocDesiredStatus, AllocId, Allocation, Deployment, DeploymentState,
    DeploymentStatusUpdate, Node, NodeId, NodeStatus, RescheduleEvent, RescheduleTracker,
    TaskGroup, deployment,
};

use crate::rules::JobRules;

/// Nomad's description of an allocation stopped because the job changed or stopped.
pub const ALLOC_NOT_NEEDED: &str = "alloc not needed due to job update";
/// Nomad's description of an allocation replaced by a new version.
pub const ALLOC_UPDATING: &str = "alloc is being updated due to job update";
/// Nomad's description of an allocation moved off a draining node.
pub const ALLOC_MIGRATING: &str = "alloc is being migrated";
/// Nomad's description of an allocation whose node is down.
pub const ALLOC_LOST: &str = "alloc is lost since its node is down";
/// Nomad's description of a canary of an older version that was never promoted.
pub const ALLOC_CANARY_NOT_NEEDED: &str = "alloc not needed as deployment is no longer active";

/// One allocation to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub group: String,
    /// The `N` of `job.group[N]`.
    pub index: u64,
    /// The allocation this one replaces, if any.
    pub previous: Option<AllocId>,
    /// For a reschedule of a failed allocation: its line's reschedules, this one included.
    pub reschedule: Option<RescheduleTracker>,
}

/// A failed allocation to reschedule later, when its reschedule delay has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    pub alloc_id: AllocId,
    /// Unix nanoseconds.
    pub at: i64,
}

/// The allocations a group is missing, produced one at a time: a count of a million
/// is a number here, not a million structs (or `job.group[i]` names) built before the
/// first is placed. Memory is what the group already has (its kept indexes and the
/// allocations it replaces), never the count.
#[derive(Debug, Default)]
pub struct GroupPlacements {
    pub group: String,
    /// How many are missing.
    pub missing: u64,
    /// The indexes the group's kept allocations hold; new ones take the lowest free.
    used: BTreeSet<u64>,
    /// The allocations replaced, in order, with the reschedule tracker each replacement
    /// carries: the first placements take their places.
    replaced: Vec<(AllocId, Option<RescheduleTracker>)>,
    /// The indexes of the canaries to place beside the allocations they will replace
    /// (Nomad names a canary after the old allocation it stands in for).
    pub canaries: Vec<u64>,
}

impl GroupPlacements {
    /// How many allocations this group places: the missing ones and the canaries.
    pub fn total(&self) -> u64 {
        self.missing + self.canaries.len() as u64
    }

    /// The canaries to place, in index order.
    pub fn canary_placements(&self) -> impl Iterator<Item = Placement> + '_ {
        self.canaries.iter().map(|index| Placement {
            group: self.group.clone(),
            index: *index,
            previous: None,
            reschedule: None,
        })
    }

    /// The placements in index order.
    pub fn iter(&self) -> impl Iterator<Item = Placement> + '_ {
        let free = (0u64..).filter(|i| !self.used.contains(i));
        let mut replaced = self.replaced.iter();
        free.take(self.missing as usize).map(move |index| {
            let (previous, reschedule) = replaced
                .next()
                .map(|(id, tracker)| (Some(id.clone()), tracker.clone()))
                .unwrap_or_default();
            Placement {
                group: self.group.clone(),
                index,
                previous,
                reschedule,
            }
        })
    }
}

/// What must change.
#[derive(Debug, Default)]
pub struct Changes {
    /// Allocations to stop (copies with the new desired or client status).
    pub stops: Vec<Allocation>,
    /// Allocations that move to the new job version without restarting (still
    /// holding the old one: the scheduler attaches the version every plan shares).
    pub in_place: Vec<Allocation>,
    /// Allocations to create, per group in the job's order.
    pub placements: Vec<GroupPlacements>,
    /// Failed allocations whose reschedule must wait (Nomad's delayed follow-up evals).
    pub followups: Vec<Followup>,
    /// A deployment to create for this job version (its ID still empty: the scheduler
    /// gives it one), or the current one, which new allocations join.
    pub deployment: Option<DeploymentPlan>,
    /// Status changes of deployments: older ones cancelled, the current one finished.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
}

/// The deployment new allocations of the job version join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentPlan {
    /// A new deployment, to be written with the plan.
    Create(Box<Deployment>),
    /// The running deployment of this version.
    Join(caravan_structs::DeploymentId),
}

/// What the latest deployment of a job means for this evaluation.
struct DeploymentView<'a> {
    /// The active (or failed) deployment of the job's current version.
    current: Option<&'a Deployment>,
    /// The latest deployment when it was of an older version (or a stopped job).
    old: Option<&'a Deployment>,
    paused: bool,
    failed: bool,
}

impl<'a> DeploymentView<'a> {
    /// Nomad's `cancelUnneededDeployments`: a deployment of an older version, or of a
    /// stopped job, is cancelled; a successful one is done with.
    fn new(
        latest: Option<&'a Deployment>,
        job: Option<&caravan_structs::Job>,
        updates: &mut Vec<DeploymentStatusUpdate>,
    ) -> DeploymentView<'a> {
        let mut view = DeploymentView {
            current: None,
            old: None,
            paused: false,
            failed: false,
        };
        let Some(latest) = latest else { return view };
        let cancel = |description: &str| DeploymentStatusUpdate {
            deployment_id: latest.id.clone(),
            status: deployment::status::CANCELLED.to_string(),
            status_description: description.to_string(),
        };
        let Some(job) = job.filter(|j| !j.stop) else {
            if latest.active() {
                updates.push(cancel(deployment::description::STOPPED_JOB));
            }
            view.old = Some(latest);
            return view;
        };
        if latest.job_version != job.version || latest.job_create_index != job.create_index {
            if latest.active() {
                updates.push(cancel(deployment::description::NEWER_JOB));
            }
            view.old = Some(latest);
            return view;
        }
        match latest.status.as_str() {
            deployment::status::SUCCESSFUL | deployment::status::CANCELLED => {}
            deployment::status::FAILED => {
                view.current = Some(latest);
                view.failed = true;
            }
            deployment::status::PAUSED => {
                view.current = Some(latest);
                view.paused = true;
            }
            _ => view.current = Some(latest),
        }
        view
    }

    fn state(&self, group: &str) -> Option<&'a DeploymentState> {
        self.current.and_then(|d| d.task_groups.get(group))
    }

    fn is_member(&self, alloc: &Allocation) -> bool {
        self.current.is_some_and(|d| alloc.deployment_id == d.id)
    }

    /// Nomad's `cancelUnneededCanaries`: a canary of the superseded deployment whose
    /// group was never promoted (the allocations it stood beside still run).
    fn unneeded_canary(&self, alloc: &Allocation) -> bool {
        alloc.is_canary()
            && self.old.is_some_and(|d| {
                alloc.deployment_id == d.id
                    && d.task_groups
                        .get(&alloc.task_group)
                        .is_some_and(|g| !g.promoted)
            })
    }
}

/// What the reschedule policy says about a failed allocation.
enum Reschedule {
    /// Replace it now; the tracker goes on the replacement.
    Now(RescheduleTracker),
    /// Replace it at this time (Unix nanoseconds).
    Later(i64),
    /// The policy allows no more reschedules.
    Never,
}

/// Nomad's reschedule policy check (`Allocation.NextRescheduleTime` and friends): attempts
/// within the interval (or unlimited), with the delay growing per the delay function.
fn reschedule(alloc: &Allocation, group: &TaskGroup, now: i64) -> Reschedule {
    let Some(policy) = &group.reschedule_policy else {
        return Reschedule::Never;
    };
    let unlimited = policy.unlimited.unwrap_or(false);
    let attempts = policy.attempts.unwrap_or(0);
    let interval = policy.interval.unwrap_or(0);
    let delay = policy.delay.unwrap_or(0).max(0);
    let events = alloc
        .reschedule_tracker
        .as_ref()
        .map(|t| t.events.clone())
        .unwrap_or_default();
    if !unlimited {
        let recent = events
            .iter()
            .filter(|e| now - e.reschedule_time <= interval)
            .count() as i64;
        if attempts <= 0 || recent >= attempts {
            return Reschedule::Never;
        }
    }
    let max_delay = policy.max_delay.unwrap_or(0);
    let next_delay = match (
        policy.delay_function.as_deref().unwrap_or("constant"),
        events.last(),
    ) {
        ("exponential", Some(last)) => last.delay.saturating_mul(2),
        ("fibonacci", Some(last)) => {
            let before = events
                .len()
                .checked_sub(2)
                .and_then(|i| events.get(i))
                .map_or(0, |e| e.delay);
            last.delay.saturating_add(before).max(delay)
        }
        _ => delay,
    };
    let next_delay = if max_delay > 0 {
        next_delay.min(max_delay)
    } else {
        next_delay
    };
    // The clock starts when the last task finished (the allocation's own modify time
    // moves when the server marks it, so it cannot serve).
    let failed_at = alloc
        .task_states
        .values()
        .filter_map(|t| caravan_structs::time::parse_rfc3339(&t.finished_at))
        .max()
        .unwrap_or(alloc.modify_time);
    let at = failed_at.saturating_add(next_delay);
    if now < at {
        return Reschedule::Later(at);
    }
    let mut tracker = RescheduleTracker { events };
    tracker.events.push(RescheduleEvent {
        reschedule_time: now,
        prev_alloc_id: alloc.id.clone(),
        prev_node_id: alloc.node_id.clone(),
        delay: next_delay,
    });
    Reschedule::Now(tracker)
}

pub(crate) fn stopped(alloc: &Allocation, description: &str) -> Allocation {
    let mut copy = alloc.clone();
    copy.desired_status = AllocDesiredStatus::Stop;
    copy.desired_description = description.to_string();
    copy
}

/// Compares the job (with its rules compiled; `None` once it is purged) with its
/// allocations, group by group. `now` (Unix nanoseconds) decides whether failed
/// allocations are due for rescheduling. `latest_deployment` is the job's newest
/// deployment: groups with an `update` strategy replace their allocations under it, at
/// most `max_parallel` unhealthy ones at a time, canaries first.
pub fn reconcile(
    rules: Option<&JobRules>,
    existing: &[Arc<Allocation>],
    nodes: &BTreeMap<NodeId, Arc<Node>>,
    now: i64,
    latest_deployment: Option<&Deployment>,
) -> Changes {
    let mut changes = Changes::default();
    let view = DeploymentView::new(
        latest_deployment,
        rules.map(JobRules::job),
        &mut changes.deployment_updates,
    );
    let live_job = rules.map(JobRules::job).filter(|j| !j.stop);
    let mut by_group: BTreeMap<&str, Vec<&Arc<Allocation>>> = BTreeMap::new();
    for alloc in existing.iter().filter(|a| !a.server_terminal()) {
        match live_job.and_then(|j| j.group(&alloc.task_group)) {
            Some(_) => by_group
                .entry(alloc.task_group.as_str())
                .or_default()
                .push(alloc),
            None if alloc.client_terminal() => {}
            None => changes.stops.push(stopped(alloc, ALLOC_NOT_NEEDED)),
        }
    }
    let (Some(job), Some(rules)) = (live_job, rules) else {
        return changes;
    };

    let mut new_states: BTreeMap<String, DeploymentState> = BTreeMap::new();
    // Whether every group with a deployment state has finished rolling out.
    let mut rollout_complete = true;
    for group in &job.task_groups {
        let mut kept: Vec<&Arc<Allocation>> = Vec::new();
        let mut trackers: BTreeMap<AllocId, RescheduleTracker> = BTreeMap::new();
        let mut replace: Vec<&Arc<Allocation>> = Vec::new();
        // Allocations of an older version that must be replaced (not updated in place).
        let mut destructive: Vec<&Arc<Allocation>> = Vec::new();
        let strategy = group
            .update
            .as_ref()
            .filter(|u| u.max_parallel.unwrap_or(0) > 0 && !job.is_batch());
        let group_allocs = by_group.remove(group.name.as_str()).unwrap_or_default();
        let had_this_version = group_allocs.iter().any(|a| {
            a.job
                .as_ref()
                .is_some_and(|j| j.version == job.version && j.create_index == job.create_index)
        });
        let in_place_before = changes.in_place.len();
        for alloc in group_allocs {
            let node = nodes.get(&alloc.node_id);
            let node_down = node.is_none_or(|n| n.status == NodeStatus::Down);
            // A draining node's allocations move, and so does one an operator stopped
            // (`alloc stop`: Nomad's migrate transition). Nomad: a batch allocation on
            // a draining node is left to finish; the drainer marks it to migrate once
            // the drain's deadline passes.
            let draining = (node.is_some_and(|n| n.drain) && !job.is_batch())
                || alloc.desired_transition.should_migrate();
            let current = alloc.job_version() == job.version;
            if alloc.client_terminal() {
                // Nomad: a batch allocation that completed is done and never replaced,
                // unless it belongs to an older version of the job. Failed allocations
                // keep their slot until rescheduling replaces them.
                let done = alloc.client_status == AllocClientStatus::Complete;
                if job.is_batch() && done && !current {
                    continue;
                }
                if alloc.client_status == AllocClientStatus::Lost || (!job.is_batch() && done) {
                    replace.push(alloc);
                    continue;
                }
                if alloc.client_status == AllocClientStatus::Failed {
                    // Already replaced by a reschedule: its replacement holds the slot.
                    if !alloc.next_allocation.is_empty() {
                        continue;
                    }
                    match reschedule(alloc, group, now) {
                        Reschedule::Now(tracker) => {
                            trackers.insert(alloc.id.clone(), tracker);
                            replace.push(alloc);
                            continue;
                        }
                        Reschedule::Later(at) => {
                            if alloc.followup_eval_id.is_empty() {
                                changes.followups.push(Followup {
                                    alloc_id: alloc.id.clone(),
                                    at,
                                });
                            }
                        }
                        Reschedule::Never => {}
                    }
                }
                kept.push(alloc);
            } else if node_down {
                let mut lost = stopped(alloc, ALLOC_LOST);
                lost.client_status = AllocClientStatus::Lost;
                lost.client_description = ALLOC_LOST.to_string();
                changes.stops.push(lost);
                replace.push(alloc);
            } else if draining {
                // Nomad waits for the drain deadline before moving batch work; Caravan
                // migrates everything at once, as a drain with `-force` does.
                changes.stops.push(stopped(alloc, ALLOC_MIGRATING));
                replace.push(alloc);
            } else if current {
                kept.push(alloc);
            } else if view.unneeded_canary(alloc) {
                changes.stops.push(stopped(alloc, ALLOC_CANARY_NOT_NEEDED));
            } else if alloc
                .job
                .as_ref()
                .and_then(|j| j.group(&group.name))
                .is_some_and(|old| !tasks_updated(old, group))
                && node.is_some_and(|n| rules.still_feasible(group, n))
            {
                changes.in_place.push(Allocation::clone(alloc));
                kept.push(alloc);
            } else {
                destructive.push(alloc);
            }
        }
        let updating_spec = !destructive.is_empty() || changes.in_place.len() > in_place_before;

        // The group's deployment: the current one's state, or a new one's when this
        // version starts rolling out.
        let existing_state = view.state(&group.name);
        let new_state = match (strategy, view.current) {
            (Some(strategy), None) if group.count > 0 && (!had_this_version || updating_spec) => {
                let progress_deadline = strategy.progress_deadline.unwrap_or(0);
                Some(DeploymentState {
                    auto_revert: strategy.auto_revert.unwrap_or(false),
                    auto_promote: strategy.auto_promote.unwrap_or(false),
                    progress_deadline,
                    require_progress_by: if progress_deadline > 0 {
                        caravan_structs::time::rfc3339(now.saturating_add(progress_deadline))
                    } else {
                        caravan_structs::ZERO_TIME.to_string()
                    },
                    desired_canaries: if destructive.is_empty() {
                        0
                    } else {
                        strategy.canary.unwrap_or(0)
                    },
                    desired_total: group.count,
                    ..DeploymentState::default()
                })
            }
            _ => None,
        };
        let state = existing_state.or(new_state.as_ref());
        let promoted = state.is_none_or(|s| s.promoted || s.desired_canaries == 0);

        // Canaries of this deployment: until promoted they run beside the allocations
        // they will replace and do not count toward the group's count.
        let (canaries, regular): (Vec<&Arc<Allocation>>, Vec<&Arc<Allocation>>) = kept
            .into_iter()
            .partition(|a| a.is_canary() && view.is_member(a));
        let mut kept = regular;
        if promoted {
            // Nomad: a promoted canary takes the place of the old allocation of its name.
            let canary_indexes: BTreeSet<u64> = canaries.iter().map(|a| a.index()).collect();
            destructive.retain(|alloc| {
                if canary_indexes.contains(&alloc.index()) {
                    changes.stops.push(stopped(alloc, ALLOC_NOT_NEEDED));
                    return false;
                }
                true
            });
            kept.extend(canaries.iter().copied());
        }

        let count = group.count.max(0) as usize;
        if kept.len() + destructive.len() > count {
            // Stop the highest indexes first, as Nomad does when a count shrinks: the old
            // version's before the current one's.
            destructive.sort_by_key(|a| std::cmp::Reverse(a.index()));
            while kept.len() + destructive.len() > count && !destructive.is_empty() {
                let alloc = destructive.remove(0);
                changes.stops.push(stopped(alloc, ALLOC_NOT_NEEDED));
            }
            kept.sort_by_key(|a| a.index());
            for alloc in kept.split_off(count.min(kept.len())) {
                if !alloc.client_terminal() {
                    changes.in_place.retain(|u| u.id != alloc.id);
                    changes.stops.push(stopped(alloc, ALLOC_NOT_NEEDED));
                }
            }
        }
        destructive.sort_by_key(|a| a.index());

        // Canaries still to place, named after the old allocations they stand beside.
        let mut canary_indexes = Vec::new();
        if let Some(state) = state.filter(|_| !promoted)
            && !view.failed
            && !view.paused
        {
            let placed: BTreeSet<u64> = canaries.iter().map(|a| a.index()).collect();
            let wanted = (state.desired_canaries.max(0) as usize).saturating_sub(placed.len());
            canary_indexes = destructive
                .iter()
                .map(|a| a.index())
                .filter(|i| !placed.contains(i))
                .take(wanted)
                .collect();
        }

        // How many old allocations may be replaced now (Nomad's `computeLimit`).
        let limit = match (strategy, state) {
            _ if destructive.is_empty() => 0,
            (None, _) | (_, None) => destructive.len(),
            (Some(_), Some(_)) if view.paused || view.failed || !promoted => 0,
            (Some(strategy), Some(_)) => {
                let unhealthy_members = kept
                    .iter()
                    .filter(|a| view.is_member(a) && !a.deployment_healthy())
                    .count();
                (strategy.max_parallel.unwrap_or(1).max(0) as usize)
                    .saturating_sub(unhealthy_members)
            }
        };
        let waiting = destructive.split_off(limit.min(destructive.len()));
        for alloc in &destructive {
            changes.stops.push(stopped(alloc, ALLOC_UPDATING));
        }
        // Replaced allocations come first: the updated ones take their own indexes.
        let mut replaced_first: Vec<&Arc<Allocation>> = destructive;
        replaced_first.extend(replace);

        let occupied = kept.len() + waiting.len();
        let missing = count.saturating_sub(occupied);
        if missing > 0 || !canary_indexes.is_empty() {
            let mut used: BTreeSet<u64> = kept.iter().map(|a| a.index()).collect();
            used.extend(waiting.iter().map(|a| a.index()));
            changes.placements.push(GroupPlacements {
                group: group.name.clone(),
                missing: missing as u64,
                used,
                replaced: replaced_first
                    .iter()
                    .take(missing)
                    .map(|a| (a.id.clone(), trackers.remove(&a.id)))
                    .collect(),
                canaries: canary_indexes.clone(),
            });
        }

        // Nomad: a group's rollout is complete when nothing is left to replace or place
        // and every allocation it wants is healthy (its canaries promoted).
        if let Some(state) = state {
            let healthy_enough =
                state.healthy_allocs >= state.desired_total.max(state.desired_canaries);
            let done = waiting.is_empty()
                && missing == 0
                && canary_indexes.is_empty()
                && promoted
                && healthy_enough;
            rollout_complete &= done;
        }
        if let Some(state) = new_state {
            new_states.insert(group.name.clone(), state);
        }
    }

    if let Some(current) = view.current {
        changes.deployment = Some(DeploymentPlan::Join(current.id.clone()));
        if current.status == deployment::status::RUNNING && rollout_complete {
            changes.deployment_updates.push(DeploymentStatusUpdate {
                deployment_id: current.id.clone(),
                status: deployment::status::SUCCESSFUL.to_string(),
                status_description: deployment::description::SUCCESSFUL.to_string(),
            });
        }
    } else if !new_states.is_empty() {
        let mut created = Deployment {
            namespace: job.namespace.clone(),
            job_id: job.id.clone(),
            job_version: job.version,
            job_modify_index: job.job_modify_index,
            job_spec_modify_index: job.job_modify_index,
            job_create_index: job.create_index,
            task_groups: new_states,
            status: deployment::status::RUNNING.to_string(),
            eval_priority: job.priority,
            create_time: now,
            modify_time: now,
            ..Deployment::default()
        };
        created.status_description = created.running_description().to_string();
        changes.deployment = Some(DeploymentPlan::Create(Box::new(created)));
    }
    changes
}

/// Nomad's `tasksUpdated`: whether a new version of a group needs its allocations
/// replaced. What the running tasks see (their definitions, the group's meta, disk and
/// network: Nomad's `networkUpdated`) does; the count, placement rules and policies are
/// applied without a restart.
pub fn tasks_updated(old: &TaskGroup, new: &TaskGroup) -> bool {
    old.tasks != new.tasks
        || old.meta != new.meta
        || old.ephemeral_disk != new.ephemeral_disk
        || old.networks != new.networks
}
