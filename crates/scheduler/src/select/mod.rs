//! Selection: Nomad's generic stack for one evaluation.
//!
//! The ready nodes of the job's pool and datacenters are shuffled once per evaluation
//! (seeded by the evaluation, see [`crate::shuffle`]) and walked by a cursor that carries
//! on from one placement to the next, as Nomad's `StaticIterator` does. Each visited node
//! goes through the stack in a fixed order (`Placer::rank`):
//!
//! 1. feasibility checkers (`feasibility.rs`): the job's constraints, the drivers, the
//!    group's and tasks' constraints and the network (cached per node and group: a
//!    node's attributes do not change within an evaluation), then `distinct_hosts` and
//!    `distinct_property`;
//! 2. bin-packing (`bin_pack.rs`): the ports, then room for cpu, memory, disk and cores,
//!    then the fit (`binpack` or `spread` algorithm);
//! 3. scorers (`scorers.rs`): job anti-affinity, node-reschedule penalty, node affinity,
//!    allocation spread, normalized to their mean.
//!
//! A node a checker rejects is recorded in the metrics with the checker's reason; the
//! limit iterator (`picker.rs`) stops the walk once `limit` options are scored, and the
//! best of them wins.
//!
//! Everything the plan changes — per-node usage, per-(node, group) collisions, per-value
//! spread and `distinct_property` counts — is updated by [`Placer::record`], so a
//! placement never rescans the job's allocations.

mod bin_pack;
mod candidates;

pub use bin_pack::{allocs_fit, usage_fits};
pub use candidates::{CandidateCache, Candidates};
mod feasibility;
mod group;
mod picker;
mod scorers;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use caravan_structs::{
    AllocMetric, AllocatedPortMapping, Allocation, Job, Node, NodeId, NodeScoreMeta, Plan,
    TaskGroup,
};

use crate::SchedulerState;
use crate::rank::{self, SchedulerAlgorithm};
use crate::rules::JobRules;
use crate::shuffle::LazyShuffle;
use bin_pack::NodeLoads;
use feasibility::{
    PropertySet, Rejection, check_distinct_hosts, check_distinct_properties, distinct_hosts,
};
use group::{BATCH_LIMIT, GroupState};
use picker::Picker;
use scorers::{ScoreCard, Scored, reschedule_penalty};

/// The node chosen for one allocation and what it holds there.
#[derive(Debug, Clone)]
pub struct Selected {
    pub node: Arc<Node>,
    /// The ports assigned on the node, empty when the group has no network.
    pub ports: Vec<AllocatedPortMapping>,
}

/// Places a job's allocations one at a time within one evaluation, keeping track of what
/// the plan already uses.
pub struct Placer<'a> {
    job: &'a Job,
    /// The job's rules, compiled once for the evaluation.
    rules: &'a JobRules<'a>,
    algorithm: SchedulerAlgorithm,
    /// Ready nodes of the job's pool and datacenters, in the state's order; per-node vectors
    /// below are indexed like it. Shared with other evaluations on the same nodes.
    candidates: Arc<Candidates>,
    /// The evaluation's shuffled order of `nodes`, drawn as the cursor walks it.
    order: LazyShuffle,
    /// Per candidate: capacity, usage and ports; the port offers of a placement.
    loads: NodeLoads<'a>,
    /// Per candidate: allocations of this job there (job-level `distinct_hosts`).
    job_count: Vec<u32>,
    job_distinct_hosts: bool,
    job_properties: Vec<PropertySet>,
    /// Index-aligned with `job.task_groups`.
    groups: Vec<GroupState<'a>>,
    /// Where the next placement starts walking the shuffled nodes.
    cursor: usize,
    /// The candidate and group of the last successful `select`.
    last: Option<(usize, usize)>,
    /// Nodes a rescheduled allocation failed on: each scores a -1 component (Nomad's
    /// `node-reschedule-penalty`). Set per placement with `set_penalty_nodes`.
    penalty_nodes: Vec<NodeId>,
}

/// Nomad's default limit: 2 for batch jobs, `max(2, ceil(log2(n)))` for service jobs.
fn default_limit(job: &Job, candidates: usize) -> usize {
    if job.is_batch() {
        return BATCH_LIMIT;
    }
    let log2 = if candidates <= 1 {
        0
    } else {
        (usize::BITS - (candidates - 1).leading_zeros()) as usize
    };
    log2.max(2)
}

impl<'a> Placer<'a> {
    /// Prepares one evaluation's placements of the job `rules` are compiled from:
    /// `candidates` are the job's (see [`SchedulerState::candidates`]), `alloc_nodes` the
    /// nodes the job's `existing` allocations are on, `plan` holds the stops already
    /// decided, `seed` orders the shuffle.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        state: &'a dyn SchedulerState,
        rules: &'a JobRules<'a>,
        candidates: Arc<Candidates>,
        alloc_nodes: &BTreeMap<NodeId, Arc<Node>>,
        existing: &[Arc<Allocation>],
        plan: &Plan,
        algorithm: SchedulerAlgorithm,
        seed: u64,
    ) -> Placer<'a> {
        let job = rules.job();
        // The shuffle starts from the state's order (the snapshot's ID order), so one
        // evaluation on one snapshot always sees the same sequence. Not re-sorted here:
        // checking 10,000 IDs costs a fifth of a small evaluation.
        let n = candidates.nodes.len();
        let base_limit = default_limit(job, n);
        let stopping: Vec<&Allocation> = plan.node_update.values().flatten().collect();
        let job_rules = rules.constraints().rules();
        let mut placer = Placer {
            job,
            rules,
            algorithm,
            order: LazyShuffle::new(n, seed),
            loads: NodeLoads::new(state, &stopping, Arc::clone(&candidates), seed),
            job_count: vec![0; n],
            job_distinct_hosts: distinct_hosts(job_rules),
            job_properties: PropertySet::from_rules(job_rules),
            groups: job
                .task_groups
                .iter()
                .enumerate()
                .map(|(g, group)| GroupState::new(rules, g, group, &candidates, base_limit))
                .collect(),
            cursor: 0,
            last: None,
            penalty_nodes: Vec::new(),
            candidates,
        };
        placer.count_existing(alloc_nodes, existing);
        placer
    }

    /// Counts the job's live allocations that the plan keeps.
    fn count_existing(
        &mut self,
        alloc_nodes: &BTreeMap<NodeId, Arc<Node>>,
        existing: &[Arc<Allocation>],
    ) {
        let live: Vec<&Arc<Allocation>> = existing
            .iter()
            .filter(|a| !a.terminal() && !self.loads.is_stopping(&a.id))
            .collect();
        if live.is_empty() {
            return;
        }
        // Looked up from the nodes the job is on, a few: not by walking every candidate.
        let position: HashMap<&NodeId, usize> = alloc_nodes
            .keys()
            .filter_map(|id| Some((id, self.candidates.position(id)?)))
            .collect();
        for alloc in live {
            let group = self.group_index(&alloc.task_group);
            let candidate = position.get(&alloc.node_id).copied();
            if let Some(i) = candidate {
                self.job_count[i] += 1;
                if let Some(g) = group {
                    self.groups[g].collisions[i] += 1;
                }
            }
            // Spread and distinct_property count allocations on any node, ready or not.
            let Some(node) = alloc_nodes.get(&alloc.node_id) else {
                continue;
            };
            for set in &mut self.job_properties {
                set.add(node);
            }
            if let Some(g) = group {
                let group = &mut self.groups[g];
                for set in &mut group.properties {
                    set.add(node);
                }
                match candidate {
                    Some(i) => group.spread.add_candidate(i),
                    None => group.spread.add_node(node),
                }
            }
        }
    }

    /// The index of the job's group named `name`.
    fn group_index(&self, name: &str) -> Option<usize> {
        self.job.task_groups.iter().position(|g| g.name == name)
    }

    /// Counts a placement made by this plan. `alloc` is on the node the last
    /// [`Placer::select`] returned (other nodes are looked up).
    pub fn record(&mut self, alloc: &Allocation) {
        let Some(g) = self.group_index(&alloc.task_group) else {
            return;
        };
        let nodes = &self.candidates.nodes;
        let i = match self.last.take() {
            Some((i, _)) if nodes[i].id == alloc.node_id => i,
            _ => match self.candidates.position(&alloc.node_id) {
                Some(i) => i,
                None => return,
            },
        };
        let node = &nodes[i];
        self.loads.add(i, node, alloc, self.groups[g].want.cores);
        self.job_count[i] += 1;
        for set in &mut self.job_properties {
            set.add(node);
        }
        let group = &mut self.groups[g];
        group.collisions[i] += 1;
        for set in &mut group.properties {
            set.add(node);
        }
        group.spread.add_candidate(i);
    }

    /// The nodes the next `select` penalizes: where the allocation it replaces (and that
    /// allocation's predecessors) failed.
    pub fn set_penalty_nodes(&mut self, nodes: Vec<NodeId>) {
        self.penalty_nodes = nodes;
    }

    /// Picks the best node for one allocation of `group` (`None` if none fits), with the
    /// ports it gets there and the metrics that explain the choice or the failure.
    pub fn select(&mut self, group: &TaskGroup) -> (Option<Selected>, AllocMetric) {
        let mut metric = self.candidates.base_metric.clone();
        self.last = None;
        self.loads.clear_offers();
        let Some(g) = self.rules.group_index(group) else {
            return (None, metric);
        };
        let n = self.candidates.nodes.len();
        let mut picker = Picker::new(self.groups[g].limit);
        let mut lowest_spread_boost = -1.0;
        let mut visited = 0;
        while visited < n && !picker.full() {
            let position = self.cursor;
            self.cursor = if position + 1 == n { 0 } else { position + 1 };
            let i = self.order.at(position);
            visited += 1;
            metric.nodes_evaluated += 1;
            match self.rank(g, i, &mut lowest_spread_boost) {
                Ok(option) => picker.offer(option),
                Err(rejection) => {
                    let node_class = self.candidates.node_class(i);
                    rejection.record(&mut metric, node_class, &self.groups[g].feasibility);
                }
            }
        }
        let (best, top) = picker.finish();
        metric.score_meta_data = top.iter().map(|s| self.score_meta(s)).collect();
        let Some(best) = best else {
            return (None, metric);
        };
        self.last = Some((best.node, g));
        let selected = Selected {
            node: self.candidates.nodes[best.node].clone(),
            ports: self.loads.take_offer(best.node),
        };
        (Some(selected), metric)
    }

    /// The nodes allocations may go to (ready, eligible, in the job's pool and
    /// datacenters), by candidate index: what the system scheduler walks.
    pub fn candidates(&self) -> &[Arc<Node>] {
        &self.candidates.nodes
    }

    /// Checks candidate `i` alone for one allocation of `group` (Nomad's system
    /// scheduler, which places on every node that fits rather than on the best one).
    /// The metric says why not: a filtered node, or an exhausted one.
    pub fn select_at(&mut self, group: &TaskGroup, i: usize) -> (Option<Selected>, AllocMetric) {
        let mut metric = self.candidates.base_metric.clone();
        self.last = None;
        self.loads.clear_offers();
        let Some(g) = self.rules.group_index(group) else {
            return (None, metric);
        };
        if i >= self.candidates.nodes.len() {
            return (None, metric);
        }
        metric.nodes_evaluated += 1;
        let mut lowest_spread_boost = -1.0;
        match self.rank(g, i, &mut lowest_spread_boost) {
            Ok(option) => {
                metric.score_meta_data = vec![self.score_meta(&option)];
                self.last = Some((i, g));
                let selected = Selected {
                    node: self.candidates.nodes[i].clone(),
                    ports: self.loads.take_offer(i),
                };
                (Some(selected), metric)
            }
            Err(rejection) => {
                let node_class = self.candidates.node_class(i);
                rejection.record(&mut metric, node_class, &self.groups[g].feasibility);
                (None, metric)
            }
        }
    }

    fn score_meta(&self, option: &Scored) -> NodeScoreMeta {
        option.meta(&self.candidates.nodes[option.node].id)
    }

    /// Candidate `i` through the stack for group `g`, in its fixed order: the
    /// feasibility checkers, bin-packing, the scorers. `lowest_spread_boost` runs over
    /// the placement (Nomad's `lowestSpreadBoost`).
    fn rank(
        &mut self,
        g: usize,
        i: usize,
        lowest_spread_boost: &mut f64,
    ) -> Result<Scored, Rejection> {
        let node = &self.candidates.nodes[i];
        let group = &mut self.groups[g];

        // Feasibility: constraints, drivers and network (once per node), then distinct_*.
        // The cached verdict is read without touching the node: on a large cluster that
        // first read of a node is a cache miss, and most visits end at the verdict.
        let rules = self.rules;
        let class = self.candidates.classes[i];
        group.feasibility.check(i, class, || rules.check(g, node))?;
        check_distinct_hosts(
            (self.job_distinct_hosts && self.job_count[i] > 0)
                || (group.distinct_hosts && group.collisions[i] > 0),
        )?;
        check_distinct_properties(self.job_properties.iter().chain(&group.properties), node)?;

        // Bin-packing: Nomad assigns the group's ports before it checks cpu and memory.
        if let Some(ask) = group.network {
            self.loads.assign_ports(i, node, ask)?;
        }
        let load = self.loads.check_room(i, node, &group.want)?;
        let fit = self.algorithm.fit(
            load.cpu,
            load.capacity.cpu,
            load.memory_mb,
            load.capacity.memory_mb,
        );

        // Scorers.
        let mut card = ScoreCard::new(i, fit);
        card.anti_affinity(rank::anti_affinity_score(group.collisions[i], group.count));
        card.reschedule_penalty(reschedule_penalty(&self.penalty_nodes, node));
        card.affinity(group.affinity.score(i, node));
        card.spread(group.spread.score(i, lowest_spread_boost));
        Ok(card.finish())
    }
}
