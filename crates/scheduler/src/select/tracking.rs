//! What one evaluation's placer tracks: per-node usage and capacity, per-group
//! feasibility and scores, `distinct_property` counts, and the pick of the best
//! candidates.

use std::collections::HashMap;

use caravan_structs::{
    Affinity, Allocation, Constraint, Job, NetworkResource, Node, Resources, TaskGroup,
};

use crate::feasible;
use crate::rank::SpreadState;

/// Nomad keeps the five best nodes' scores in `ScoreMetaData` (`MaxRetainedNodeScores`).
pub(super) const MAX_RETAINED_SCORES: usize = 5;
/// Nomad's `maxSkip`: at most this many low-scoring options are set aside.
pub(super) const MAX_SKIP: usize = 3;
/// Nomad's `skipScoreThreshold`: options scoring at most this are set aside first.
pub(super) const SKIP_SCORE_THRESHOLD: f64 = 0.0;
/// Batch jobs score two nodes: "power of two choices".
pub(super) const BATCH_LIMIT: usize = 2;
/// The most nodes a group with affinities or spreads scores.
pub(super) const PREFERENCE_LIMIT_MAX: usize = 100;

/// Feasibility cache entries: not checked yet, feasible, or `FILTERED + reason index`.
pub(super) const UNCHECKED: u32 = 0;
pub(super) const FEASIBLE: u32 = 1;
pub(super) const FILTERED: u32 = 2;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Usage {
    pub(super) cpu: i64,
    pub(super) memory_mb: i64,
    pub(super) disk_mb: i64,
    /// Whole cores reserved (`resources { cores = N }`).
    pub(super) cores: i64,
}

/// What a node can hand out: capacity minus reserved.
#[derive(Debug, Clone, Copy)]
pub(super) struct Capacity {
    pub(super) cpu: i64,
    pub(super) memory_mb: i64,
    pub(super) disk_mb: i64,
    /// The node's cores (`cpu.numcores`).
    pub(super) cores: i64,
}

/// The cores an allocation reserves, from its job's group.
pub(super) fn reserved_cores(alloc: &Allocation) -> i64 {
    alloc
        .job
        .as_ref()
        .and_then(|job| job.group(&alloc.task_group))
        .map_or(0, |group| {
            group.tasks.iter().map(|t| t.resources.cores).sum()
        })
}

/// `distinct_property`: allocations per value of a node property (job- or group-wide).
pub(super) struct PropertySet {
    pub(super) attribute: String,
    pub(super) allowed: u32,
    pub(super) counts: HashMap<String, u32>,
}

impl PropertySet {
    pub(super) fn new(constraint: &Constraint) -> PropertySet {
        PropertySet {
            attribute: constraint.l_target.clone(),
            allowed: constraint.r_target.parse::<u32>().unwrap_or(1).max(1),
            counts: HashMap::new(),
        }
    }

    pub(super) fn add(&mut self, node: &Node) {
        if let Some(value) = feasible::resolve_target(&self.attribute, node) {
            *self.counts.entry(value.to_string()).or_default() += 1;
        }
    }

    pub(super) fn check(&self, node: &Node) -> Result<(), String> {
        let attribute = &self.attribute;
        let Some(value) = feasible::resolve_target(attribute, node) else {
            return Err(format!("missing property \"{attribute}\""));
        };
        let used = self.counts.get(value).copied().unwrap_or(0);
        if used >= self.allowed {
            return Err(format!(
                "distinct_property: {attribute}={value} used by {used} allocs"
            ));
        }
        Ok(())
    }
}

/// Whether a `distinct_hosts` constraint is on (Go's `ParseBool`; unparsable enforces).
pub(super) fn distinct_hosts(constraints: &[Constraint]) -> bool {
    constraints.iter().any(|c| {
        c.operand == "distinct_hosts"
            && !matches!(
                c.r_target.as_str(),
                "false" | "0" | "f" | "F" | "FALSE" | "False"
            )
    })
}

pub(super) fn property_sets(constraints: &[Constraint]) -> Vec<PropertySet> {
    constraints
        .iter()
        .filter(|c| c.operand == "distinct_property")
        .map(PropertySet::new)
        .collect()
}

/// Per task group state for one evaluation.
pub(super) struct GroupState<'a> {
    pub(super) want: Resources,
    /// The group's `network` block: ports to reserve on the chosen node.
    pub(super) network: Option<&'a NetworkResource>,
    pub(super) count: i64,
    pub(super) limit: usize,
    /// Per candidate: [`UNCHECKED`], [`FEASIBLE`] or [`FILTERED`] + index into `reasons`.
    pub(super) feasibility: Vec<u32>,
    pub(super) reasons: Vec<String>,
    /// Per candidate: allocations of this job and group there.
    pub(super) collisions: Vec<u32>,
    pub(super) distinct_hosts: bool,
    pub(super) properties: Vec<PropertySet>,
    pub(super) affinities: Vec<&'a Affinity>,
    /// Per candidate: the node's affinity score, NaN until computed.
    pub(super) affinity: Vec<f64>,
    pub(super) spreads: Vec<SpreadState<'a>>,
}

impl<'a> GroupState<'a> {
    pub(super) fn new(
        job: &'a Job,
        group: &'a TaskGroup,
        candidates: usize,
        base_limit: usize,
    ) -> Self {
        let affinities: Vec<&Affinity> = job
            .affinities
            .iter()
            .chain(group.affinities.iter())
            .chain(group.tasks.iter().flat_map(|t| t.affinities.iter()))
            .collect();
        let spreads: Vec<_> = group.spreads.iter().chain(job.spreads.iter()).collect();
        let weight_sum: f64 = spreads.iter().map(|s| s.weight as f64).sum();
        let limit = if affinities.is_empty() && spreads.is_empty() {
            base_limit
        } else {
            // Nomad's docs: "the limit is the task group count, with a maximum of 100".
            // Nomad's code (`GenericStack.Select`) sets max(count, 100) instead, i.e. at
            // least 100. A preference never lowers the limit below the group's default.
            base_limit.max((group.count.max(0) as usize).clamp(2, PREFERENCE_LIMIT_MAX))
        };
        GroupState {
            want: group.combined_resources(),
            network: group.networks.first(),
            count: group.count,
            limit,
            feasibility: vec![UNCHECKED; candidates],
            reasons: Vec::new(),
            collisions: vec![0; candidates],
            distinct_hosts: distinct_hosts(&group.constraints),
            properties: property_sets(&group.constraints),
            affinity: if affinities.is_empty() {
                Vec::new()
            } else {
                vec![f64::NAN; candidates]
            },
            affinities,
            spreads: spreads
                .into_iter()
                .map(|s| SpreadState::new(s, group.count, weight_sum, candidates))
                .collect(),
        }
    }
}

/// One scored option.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scored {
    pub(super) node: usize,
    pub(super) norm: f64,
    pub(super) fit: f64,
    pub(super) anti_affinity: f64,
    /// `Some(-1.0)` on a node a rescheduled allocation failed on.
    pub(super) reschedule_penalty: Option<f64>,
    pub(super) affinity: Option<f64>,
    pub(super) spread: Option<f64>,
}

/// Nomad's `LimitIterator` + `MaxScoreIterator`, and the top scores for the metrics.
pub(super) struct Picker {
    pub(super) limit: usize,
    pub(super) taken: usize,
    pub(super) best: Option<Scored>,
    pub(super) skipped: Vec<Scored>,
    pub(super) top: Vec<Scored>,
}

impl Picker {
    pub(super) fn new(limit: usize) -> Picker {
        Picker {
            limit,
            taken: 0,
            best: None,
            skipped: Vec::new(),
            top: Vec::with_capacity(MAX_RETAINED_SCORES + 1),
        }
    }

    pub(super) fn full(&self) -> bool {
        self.taken >= self.limit
    }

    pub(super) fn offer(&mut self, option: Scored) {
        self.retain(option);
        if option.norm <= SKIP_SCORE_THRESHOLD && self.skipped.len() < MAX_SKIP {
            self.skipped.push(option);
        } else {
            self.take(option);
        }
    }

    /// Max score: the first option with the strictly greatest score wins.
    pub(super) fn take(&mut self, option: Scored) {
        self.taken += 1;
        if self.best.is_none_or(|best| option.norm > best.norm) {
            self.best = Some(option);
        }
    }

    /// Keeps the best scores seen, best first, earlier first among equals.
    pub(super) fn retain(&mut self, option: Scored) {
        if self.top.len() == MAX_RETAINED_SCORES
            && self.top.last().is_some_and(|last| option.norm <= last.norm)
        {
            return;
        }
        let at = self.top.partition_point(|s| s.norm >= option.norm);
        self.top.insert(at, option);
        self.top.truncate(MAX_RETAINED_SCORES);
    }

    /// The source ran dry or the limit is reached: the set-aside options fill what the
    /// limit leaves, then the best wins.
    pub(super) fn finish(mut self) -> (Option<Scored>, Vec<Scored>) {
        for option in std::mem::take(&mut self.skipped) {
            if self.full() {
                break;
            }
            self.take(option);
        }
        (self.best, self.top)
    }
}
