//! Selection: Nomad's generic stack for one evaluation.
//!
//! The ready nodes of the job's pool and datacenters are shuffled once per evaluation
//! (seeded by the evaluation, see [`crate::shuffle`]) and walked by a cursor that carries
//! on from one placement to the next, as Nomad's `StaticIterator` does. Each visited node
//! goes through feasibility (cached per node and group: a node's constraints and drivers
//! do not change within an evaluation), `distinct_*`, ports, resources, then ranking; the limit
//! iterator stops the walk once `limit` options are scored, and the best of them wins.
//!
//! Everything the plan changes — per-node usage, per-(node, group) collisions, per-value
//! spread and `distinct_property` counts — is updated by [`Placer::record`], so a
//! placement never rescans the job's allocations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use caravan_structs::{
    AllocMetric, AllocatedPortMapping, Allocation, Job, Node, NodeScoreMeta, Plan, TaskGroup,
};

use crate::SchedulerState;
use crate::feasible::{self, RegexCache};
use crate::ports::{self, DynamicRange, UsedPorts};
use crate::rank::{self, SchedulerAlgorithm};
use crate::shuffle::{LazyShuffle, SplitMix64};

mod tracking;

use tracking::*;

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
    state: &'a dyn SchedulerState,
    job: &'a Job,
    algorithm: SchedulerAlgorithm,
    /// Ready nodes of the job's pool and datacenters, in the state's order; per-node vectors
    /// below are indexed like it.
    nodes: Vec<Arc<Node>>,
    /// The evaluation's shuffled order of `nodes`, drawn as the cursor walks it.
    order: LazyShuffle,
    /// Per candidate: what it can hand out, read on first visit.
    capacity: Vec<Option<Capacity>>,
    /// Per candidate: what its live allocations use, read from the state on first visit.
    usage: Vec<Option<Usage>>,
    /// Per candidate: the ports its live allocations (and the plan's) hold, read on the
    /// first visit by a group with a network.
    ports: Vec<Option<UsedPorts>>,
    /// Draws dynamic ports; seeded by the evaluation, so its placements are reproducible.
    port_rng: SplitMix64,
    /// The port offers of the nodes scored for the current placement.
    offers: Vec<(usize, Vec<AllocatedPortMapping>)>,
    /// Allocations the plan stops: they free their resources.
    stopping: HashSet<String>,
    /// Per candidate: allocations of this job there (job-level `distinct_hosts`).
    job_count: Vec<u32>,
    job_distinct_hosts: bool,
    job_properties: Vec<PropertySet>,
    /// Index-aligned with `job.task_groups`.
    groups: Vec<GroupState<'a>>,
    /// `NodesInPool` and `NodesAvailable`, the same for every placement.
    base_metric: AllocMetric,
    /// Where the next placement starts walking the shuffled nodes.
    cursor: usize,
    /// The candidate and group of the last successful `select`.
    last: Option<(usize, usize)>,
    /// Nodes a rescheduled allocation failed on: each scores a -1 component (Nomad's
    /// `node-reschedule-penalty`). Set per placement with `set_penalty_nodes`.
    penalty_nodes: Vec<String>,
    regexes: RegexCache,
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
    /// Prepares one evaluation's placements: `nodes` is every node (any order),
    /// `alloc_nodes` the nodes the job's `existing` allocations are on, `plan` holds the
    /// stops already decided, `seed` orders the shuffle.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        state: &'a dyn SchedulerState,
        job: &'a Job,
        mut nodes: Vec<Arc<Node>>,
        alloc_nodes: &BTreeMap<String, Arc<Node>>,
        existing: &[Arc<Allocation>],
        plan: &Plan,
        algorithm: SchedulerAlgorithm,
        seed: u64,
    ) -> Placer<'a> {
        let mut base_metric = AllocMetric::default();
        let mut available: Vec<(String, i64)> = Vec::new();
        nodes.retain(|node| {
            if !node.is_schedulable() || !feasible::in_node_pool(job, node) {
                return false;
            }
            base_metric.nodes_in_pool += 1;
            if !feasible::in_datacenters(job, node) {
                return false;
            }
            match available.iter_mut().find(|(dc, _)| *dc == node.datacenter) {
                Some((_, n)) => *n += 1,
                None => available.push((node.datacenter.clone(), 1)),
            }
            true
        });
        base_metric.nodes_available = available.into_iter().collect();
        // The shuffle starts from the state's order (the snapshot's ID order), so one
        // evaluation on one snapshot always sees the same sequence. Not re-sorted here:
        // checking 10,000 IDs costs a fifth of a small evaluation.
        let n = nodes.len();
        let base_limit = default_limit(job, n);
        let mut placer = Placer {
            state,
            job,
            algorithm,
            order: LazyShuffle::new(n, seed),
            capacity: vec![None; n],
            usage: vec![None; n],
            ports: vec![None; n],
            // Another stream than the shuffle's, from the same evaluation seed.
            port_rng: SplitMix64::new(seed ^ 0x706f_7274_7321),
            offers: Vec::new(),
            stopping: plan
                .node_update
                .values()
                .flatten()
                .map(|a| a.id.clone())
                .collect(),
            job_count: vec![0; n],
            job_distinct_hosts: distinct_hosts(&job.constraints),
            job_properties: property_sets(&job.constraints),
            groups: job
                .task_groups
                .iter()
                .map(|g| GroupState::new(job, g, n, base_limit))
                .collect(),
            base_metric,
            cursor: 0,
            last: None,
            penalty_nodes: Vec::new(),
            regexes: RegexCache::default(),
            nodes,
        };
        placer.count_existing(alloc_nodes, existing);
        placer
    }

    /// Counts the job's live allocations that the plan keeps.
    fn count_existing(
        &mut self,
        alloc_nodes: &BTreeMap<String, Arc<Node>>,
        existing: &[Arc<Allocation>],
    ) {
        let live: Vec<&Arc<Allocation>> = existing
            .iter()
            .filter(|a| !a.terminal() && !self.stopping.contains(&a.id))
            .collect();
        if live.is_empty() {
            return;
        }
        let position: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| alloc_nodes.contains_key(&n.id))
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        for alloc in live {
            let group = self
                .job
                .task_groups
                .iter()
                .position(|g| g.name == alloc.task_group);
            let candidate = position.get(alloc.node_id.as_str()).copied();
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
                for spread in &mut group.spreads {
                    match candidate {
                        Some(i) => spread.add_candidate(i, node),
                        None => spread.add_node(node),
                    }
                }
            }
        }
    }

    /// Counts a placement made by this plan. `alloc` is on the node the last
    /// [`Placer::select`] returned (other nodes are looked up).
    pub fn record(&mut self, alloc: &Allocation) {
        let Some(g) = self
            .job
            .task_groups
            .iter()
            .position(|g| g.name == alloc.task_group)
        else {
            return;
        };
        let i = match self.last.take() {
            Some((i, _)) if self.nodes[i].id == alloc.node_id => i,
            _ => match self.nodes.iter().position(|n| n.id == alloc.node_id) {
                Some(i) => i,
                None => return,
            },
        };
        let mut used = self.usage_of(i);
        used.cpu += alloc.allocated_resources.cpu();
        used.memory_mb += alloc.allocated_resources.memory_mb();
        used.disk_mb += alloc.allocated_resources.shared.disk_mb;
        used.cores += self.groups[g].want.cores;
        self.usage[i] = Some(used);
        let shared = &alloc.allocated_resources.shared;
        if !shared.ports.is_empty() || !shared.networks.is_empty() {
            let taken = self.ports_of(i);
            for port in shared.host_ports() {
                taken.insert(port);
            }
        }
        self.job_count[i] += 1;
        let node = &self.nodes[i];
        for set in &mut self.job_properties {
            set.add(node);
        }
        let group = &mut self.groups[g];
        group.collisions[i] += 1;
        for set in &mut group.properties {
            set.add(node);
        }
        for spread in &mut group.spreads {
            spread.add_candidate(i, node);
        }
    }

    /// What candidate `i`'s live allocations (and the plan's placements) use.
    fn usage_of(&mut self, i: usize) -> Usage {
        if let Some(used) = self.usage[i] {
            return used;
        }
        let mut used = Usage::default();
        for alloc in self.state.allocs_by_node(&self.nodes[i].id) {
            if alloc.terminal() || self.stopping.contains(&alloc.id) {
                continue;
            }
            used.cpu += alloc.allocated_resources.cpu();
            used.memory_mb += alloc.allocated_resources.memory_mb();
            used.disk_mb += alloc.allocated_resources.shared.disk_mb;
            used.cores += reserved_cores(&alloc);
        }
        self.usage[i] = Some(used);
        used
    }

    /// The ports candidate `i`'s live allocations (and the plan's placements) hold.
    fn ports_of(&mut self, i: usize) -> &mut UsedPorts {
        if self.ports[i].is_none() {
            let mut taken = UsedPorts::default();
            for alloc in self.state.allocs_by_node(&self.nodes[i].id) {
                if alloc.terminal() || self.stopping.contains(&alloc.id) {
                    continue;
                }
                for port in alloc.allocated_resources.shared.host_ports() {
                    taken.insert(port);
                }
            }
            self.ports[i] = Some(taken);
        }
        self.ports[i]
            .as_mut()
            .expect("the node's ports were just read")
    }

    /// The nodes the next `select` penalizes: where the allocation it replaces (and that
    /// allocation's predecessors) failed.
    pub fn set_penalty_nodes(&mut self, nodes: Vec<String>) {
        self.penalty_nodes = nodes;
    }

    /// Picks the best node for one allocation of `group` (`None` if none fits), with the
    /// ports it gets there and the metrics that explain the choice or the failure.
    pub fn select(&mut self, group: &TaskGroup) -> (Option<Selected>, AllocMetric) {
        let mut metric = self.base_metric.clone();
        self.last = None;
        self.offers.clear();
        let Some(g) = self
            .job
            .task_groups
            .iter()
            .position(|tg| std::ptr::eq(tg, group) || tg.name == group.name)
        else {
            return (None, metric);
        };
        let n = self.nodes.len();
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
                Err(Rejection::Filtered(reason)) => {
                    metric.filter_node(&self.nodes[i].node_class, &reason.text(&self.groups[g]));
                }
                Err(Rejection::Exhausted(dimension)) => {
                    metric.exhaust_node(&self.nodes[i].node_class, &dimension);
                }
            }
        }
        let (best, top) = picker.finish();
        metric.score_meta_data = top.iter().map(|s| self.score_meta(s)).collect();
        let Some(best) = best else {
            return (None, metric);
        };
        self.last = Some((best.node, g));
        let ports = match self.offers.iter().position(|(i, _)| *i == best.node) {
            Some(at) => self.offers.swap_remove(at).1,
            None => Vec::new(),
        };
        self.offers.clear();
        let selected = Selected {
            node: self.nodes[best.node].clone(),
            ports,
        };
        (Some(selected), metric)
    }

    /// The nodes allocations may go to (ready, eligible, in the job's pool and
    /// datacenters), by candidate index: what the system scheduler walks.
    pub fn candidates(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    /// Checks candidate `i` alone for one allocation of `group` (Nomad's system
    /// scheduler, which places on every node that fits rather than on the best one).
    /// The metric says why not: a filtered node, or an exhausted one.
    pub fn select_at(&mut self, group: &TaskGroup, i: usize) -> (Option<Selected>, AllocMetric) {
        let mut metric = self.base_metric.clone();
        self.last = None;
        self.offers.clear();
        let Some(g) = self
            .job
            .task_groups
            .iter()
            .position(|tg| std::ptr::eq(tg, group) || tg.name == group.name)
        else {
            return (None, metric);
        };
        if i >= self.nodes.len() {
            return (None, metric);
        }
        metric.nodes_evaluated += 1;
        let mut lowest_spread_boost = -1.0;
        match self.rank(g, i, &mut lowest_spread_boost) {
            Ok(option) => {
                metric.score_meta_data = vec![self.score_meta(&option)];
                self.last = Some((i, g));
                let ports = self
                    .offers
                    .iter()
                    .position(|(at, _)| *at == i)
                    .map(|at| self.offers.swap_remove(at).1)
                    .unwrap_or_default();
                self.offers.clear();
                let selected = Selected {
                    node: self.nodes[i].clone(),
                    ports,
                };
                (Some(selected), metric)
            }
            Err(Rejection::Filtered(reason)) => {
                metric.filter_node(&self.nodes[i].node_class, &reason.text(&self.groups[g]));
                (None, metric)
            }
            Err(Rejection::Exhausted(dimension)) => {
                metric.exhaust_node(&self.nodes[i].node_class, &dimension);
                (None, metric)
            }
        }
    }

    fn score_meta(&self, option: &Scored) -> NodeScoreMeta {
        let mut scores = BTreeMap::new();
        scores.insert("binpack".to_string(), option.fit);
        scores.insert("job-anti-affinity".to_string(), option.anti_affinity);
        scores.insert(
            "node-reschedule-penalty".to_string(),
            option.reschedule_penalty.unwrap_or(0.0),
        );
        if let Some(affinity) = option.affinity {
            scores.insert("node-affinity".to_string(), affinity);
        }
        if let Some(spread) = option.spread {
            scores.insert("allocation-spread".to_string(), spread);
        }
        scores.insert("normalized-score".to_string(), option.norm);
        NodeScoreMeta {
            node_id: self.nodes[option.node].id.clone(),
            scores,
            norm_score: option.norm,
        }
    }

    /// Feasibility, distinct_*, resources and scores of candidate `i` for group `g`.
    fn rank(
        &mut self,
        g: usize,
        i: usize,
        lowest_spread_boost: &mut f64,
    ) -> Result<Scored, Rejection> {
        let job: &'a Job = self.job;
        let group = &job.task_groups[g];
        let state = &mut self.groups[g];
        let node = &self.nodes[i];

        let mut verdict = state.feasibility[i];
        if verdict == UNCHECKED {
            verdict = match feasible::check_node(job, group, node, &mut self.regexes) {
                Ok(()) => FEASIBLE,
                Err(reason) => {
                    let at = match state.reasons.iter().position(|r| *r == reason) {
                        Some(at) => at,
                        None => {
                            state.reasons.push(reason);
                            state.reasons.len() - 1
                        }
                    };
                    FILTERED + at as u32
                }
            };
            state.feasibility[i] = verdict;
        }
        if verdict != FEASIBLE {
            return Err(Rejection::Filtered(Reason::Cached(verdict - FILTERED)));
        }

        if (self.job_distinct_hosts && self.job_count[i] > 0)
            || (state.distinct_hosts && state.collisions[i] > 0)
        {
            return Err(Rejection::Filtered(Reason::Static("distinct_hosts")));
        }
        for set in self.job_properties.iter().chain(state.properties.iter()) {
            set.check(node)
                .map_err(|r| Rejection::Filtered(Reason::Owned(r)))?;
        }

        let want = state.want.clone();
        let count = state.count;
        let network = state.network;
        // Nomad's bin-packing assigns the group's ports before it checks cpu and memory.
        if let Some(ask) = network {
            let host_ip = ports::node_ip(&self.nodes[i]).to_string();
            self.ports_of(i);
            let taken = self.ports[i]
                .as_ref()
                .expect("the node's ports were just read");
            let offer = ports::assign_ports(
                ask,
                taken,
                &host_ip,
                DynamicRange::default(),
                &mut self.port_rng,
            )
            .map_err(|e| Rejection::Exhausted(format!("network: {e}").into()))?;
            self.offers.push((i, offer));
        }
        let used = self.usage_of(i);
        let node = &self.nodes[i];
        let capacity = *self.capacity[i].get_or_insert_with(|| {
            let (cpu, memory_mb) = node.allocatable();
            Capacity {
                cpu,
                memory_mb,
                disk_mb: node.node_resources.disk.disk_mb - node.reserved_resources.disk.disk_mb,
                cores: node
                    .attributes
                    .get("cpu.numcores")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            }
        });
        let cpu = used.cpu + want.cpu;
        let memory = used.memory_mb + want.memory_mb;
        if cpu > capacity.cpu {
            return Err(Rejection::Exhausted("cpu".into()));
        }
        if memory > capacity.memory_mb {
            return Err(Rejection::Exhausted("memory".into()));
        }
        if capacity.disk_mb > 0 && used.disk_mb + want.disk_mb > capacity.disk_mb {
            return Err(Rejection::Exhausted("disk".into()));
        }
        // Nomad reserves whole cores: a node has only so many.
        if want.cores > 0 && used.cores + want.cores > capacity.cores {
            return Err(Rejection::Exhausted("cores".into()));
        }

        let state = &mut self.groups[g];
        let node = &self.nodes[i];
        let fit = self
            .algorithm
            .fit(cpu, capacity.cpu, memory, capacity.memory_mb);
        let mut sum = fit;
        let mut appended = 1.0;
        let anti = rank::anti_affinity_score(state.collisions[i], count);
        if let Some(anti) = anti {
            sum += anti;
            appended += 1.0;
        }
        let reschedule_penalty = self
            .penalty_nodes
            .iter()
            .any(|id| *id == node.id)
            .then_some(-1.0);
        if let Some(penalty) = reschedule_penalty {
            sum += penalty;
            appended += 1.0;
        }
        let affinity = if state.affinities.is_empty() {
            None
        } else {
            if state.affinity[i].is_nan() {
                state.affinity[i] =
                    rank::affinity_score(&state.affinities, node, &mut self.regexes);
            }
            Some(state.affinity[i])
        };
        if let Some(affinity) = affinity {
            sum += affinity;
            appended += 1.0;
        }
        let spread = if state.spreads.is_empty() {
            None
        } else {
            let total: f64 = state
                .spreads
                .iter_mut()
                .map(|s| s.boost(i, node, lowest_spread_boost))
                .sum();
            Some(total)
        };
        // Nomad appends the spread component only when it is not zero.
        if let Some(spread) = spread.filter(|s| *s != 0.0) {
            sum += spread;
            appended += 1.0;
        }
        Ok(Scored {
            node: i,
            norm: sum / appended,
            fit,
            anti_affinity: anti.unwrap_or(0.0),
            reschedule_penalty,
            affinity,
            spread,
        })
    }
}

/// Why a visited node is not an option.
enum Rejection {
    Filtered(Reason),
    Exhausted(std::borrow::Cow<'static, str>),
}

/// A filter reason, cached per group or made for this node.
enum Reason {
    Cached(u32),
    Static(&'static str),
    Owned(String),
}

impl Reason {
    fn text<'r>(&'r self, group: &'r GroupState<'_>) -> std::borrow::Cow<'r, str> {
        match self {
            Reason::Cached(at) => group.reasons[*at as usize].as_str().into(),
            Reason::Static(text) => (*text).into(),
            Reason::Owned(text) => text.as_str().into(),
        }
    }
}
