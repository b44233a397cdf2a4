//! Reconciliation: what a job wants against the allocations it has.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use caravan_structs::{
    AllocClientStatus, AllocDesiredStatus, AllocId, Allocation, Node, NodeId, NodeStatus,
    RescheduleEvent, RescheduleTracker, TaskGroup,
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
}

impl GroupPlacements {
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
    /// Allocations that move to the new job version without restarting.
    pub in_place: Vec<Allocation>,
    /// Allocations to create, per group in the job's order.
    pub placements: Vec<GroupPlacements>,
    /// Failed allocations whose reschedule must wait (Nomad's delayed follow-up evals).
    pub followups: Vec<Followup>,
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
/// allocations are due for rescheduling.
pub fn reconcile(
    rules: Option<&JobRules>,
    existing: &[Arc<Allocation>],
    nodes: &BTreeMap<NodeId, Arc<Node>>,
    now: i64,
) -> Changes {
    let mut changes = Changes::default();
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

    for group in &job.task_groups {
        let mut kept: Vec<&Arc<Allocation>> = Vec::new();
        let mut trackers: BTreeMap<AllocId, RescheduleTracker> = BTreeMap::new();
        let mut replace: Vec<&Arc<Allocation>> = Vec::new();
        for alloc in by_group.remove(group.name.as_str()).unwrap_or_default() {
            let node = nodes.get(&alloc.node_id);
            let node_down = node.is_none_or(|n| n.status == NodeStatus::Down);
            let draining = node.is_some_and(|n| n.drain);
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
            } else if alloc
                .job
                .as_ref()
                .and_then(|j| j.group(&group.name))
                .is_some_and(|old| !tasks_updated(old, group))
                && node.is_some_and(|n| rules.still_feasible(group, n))
            {
                let mut updated = Allocation::clone(alloc);
                updated.job = Some(job.clone());
                changes.in_place.push(updated);
                kept.push(alloc);
            } else {
                changes.stops.push(stopped(alloc, ALLOC_UPDATING));
                replace.push(alloc);
            }
        }

        let count = group.count.max(0) as usize;
        if kept.len() > count {
            // Stop the highest indexes first, as Nomad does when a count shrinks.
            kept.sort_by_key(|a| a.index());
            for alloc in kept.split_off(count) {
                if !alloc.client_terminal() {
                    changes.in_place.retain(|u| u.id != alloc.id);
                    changes.stops.push(stopped(alloc, ALLOC_NOT_NEEDED));
                }
            }
        }
        let missing = count.saturating_sub(kept.len());
        if missing > 0 {
            changes.placements.push(GroupPlacements {
                group: group.name.clone(),
                missing: missing as u64,
                used: kept.iter().map(|a| a.index()).collect(),
                replaced: replace
                    .iter()
                    .take(missing)
                    .map(|a| (a.id.clone(), trackers.remove(&a.id)))
                    .collect(),
            });
        }
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
