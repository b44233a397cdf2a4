//! What one evaluation's placer keeps per task group: its ask, its limit, and the state
//! of each checker and scorer of the stack for it.

use caravan_structs::{NetworkResource, Resources, TaskGroup};

use super::candidates::Candidates;
use super::feasibility::{FeasibilityCache, PropertySet, distinct_hosts};
use super::scorers::{AffinityScorer, SpreadScorer};
use crate::rules::JobRules;

/// Batch jobs score two nodes: "power of two choices".
pub(super) const BATCH_LIMIT: usize = 2;
/// The most nodes a group with affinities or spreads scores.
const PREFERENCE_LIMIT_MAX: usize = 100;

/// Per task group state for one evaluation.
pub(super) struct GroupState<'a> {
    pub(super) want: Resources,
    /// The group's `network` block: ports to reserve on the chosen node.
    pub(super) network: Option<&'a NetworkResource>,
    pub(super) count: i64,
    pub(super) limit: usize,
    pub(super) feasibility: FeasibilityCache,
    /// Per candidate: allocations of this job and group there.
    pub(super) collisions: Vec<u32>,
    pub(super) distinct_hosts: bool,
    pub(super) properties: Vec<PropertySet>,
    pub(super) affinity: AffinityScorer<'a>,
    pub(super) spread: SpreadScorer,
}

impl<'a> GroupState<'a> {
    /// The state of `group`, the job's `g`th.
    pub(super) fn new(
        rules: &'a JobRules<'a>,
        g: usize,
        group: &'a TaskGroup,
        candidates: &Candidates,
        base_limit: usize,
    ) -> Self {
        let classes = candidates.class_count;
        let n = candidates.nodes.len();
        let job = rules.job();
        let group_rules = rules.group(g);
        let affinity =
            AffinityScorer::new(rules.affinities().iter().chain(&group_rules.affinities), n);
        let spread = SpreadScorer::new(
            group.spreads.iter().chain(job.spreads.iter()).collect(),
            group.count,
            candidates,
        );
        let limit = if affinity.is_empty() && spread.is_empty() {
            base_limit
        } else {
            // Nomad's docs: "the limit is the task group count, with a maximum of 100".
            // Nomad's code (`GenericStack.Select`) sets max(count, 100) instead, i.e. at
            // least 100. A preference never lowers the limit below the group's default.
            base_limit.max((group.count.max(0) as usize).clamp(2, PREFERENCE_LIMIT_MAX))
        };
        let checks = &group_rules.checks;
        GroupState {
            want: group.combined_resources(),
            network: group.networks.first(),
            count: group.count,
            limit,
            feasibility: FeasibilityCache::new(
                n,
                classes,
                !rules.constraints().escapes_class() && !checks.escapes_class(),
            ),
            collisions: vec![0; n],
            distinct_hosts: distinct_hosts(checks.group_rules()),
            properties: PropertySet::from_rules(checks.group_rules()),
            affinity,
            spread,
        }
    }
}
