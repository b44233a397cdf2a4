//! The nodes an evaluation may place on, prepared once per node table rather than once
//! per evaluation.
//!
//! Finding them means reading every node (its status, pool and datacenter), and on a
//! large cluster those reads are cache misses that cost more than a small evaluation's
//! placements. Between two writes to the node table every evaluation of a job with the
//! same pool and datacenters sees the same candidates, so a [`CandidateCache`] hands the
//! same [`Candidates`] to all of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use caravan_structs::constraint::Target;
use caravan_structs::{AllocMetric, Job, Node, NodeId};

use crate::feasible;
use crate::rank::AttributeValues;

/// A candidate whose node has no computed class: checked alone, never by its class.
pub(super) const NO_CLASS: u32 = u32::MAX;

/// What a node can hand out: capacity minus reserved.
#[derive(Debug, Clone, Copy)]
pub(super) struct Capacity {
    pub(super) cpu: i64,
    pub(super) memory_mb: i64,
    pub(super) disk_mb: i64,
}

impl Capacity {
    fn of(node: &Node) -> Capacity {
        let (cpu, memory_mb) = node.allocatable();
        Capacity {
            cpu,
            memory_mb,
            disk_mb: node.allocatable_disk_mb(),
        }
    }
}

/// The ready, eligible nodes of a job's pool and datacenters, in the state's order, with
/// what the metrics count of them.
#[derive(Debug)]
pub struct Candidates {
    pub(super) nodes: Vec<Arc<Node>>,
    /// Per candidate: its computed class, numbered from 0, or [`NO_CLASS`].
    pub(super) classes: Vec<u32>,
    /// How many distinct computed classes `classes` numbers.
    pub(super) class_count: usize,
    /// Per candidate: what it can hand out. Read here, once per node table: reading it
    /// from each node on an evaluation's first visit was a cache miss per candidate.
    pub(super) capacity: Vec<Capacity>,
    /// Per candidate: its `node_class`, an index into `node_class_names` (what the
    /// metrics count rejections by).
    node_classes: Vec<u32>,
    node_class_names: Vec<String>,
    /// `NodesInPool` and `NodesAvailable`, the same for every placement.
    pub(super) base_metric: AllocMetric,
    /// Whether `nodes` are in ID order, as the state keeps them (a test's state may
    /// not): then a node's index is found by bisection.
    by_id: bool,
    /// Per spread attribute (as written): its value on each candidate, resolved by the
    /// first evaluation that spreads over it.
    attribute_values: Mutex<HashMap<String, Arc<AttributeValues>>>,
}

impl Candidates {
    /// The candidates among `nodes` (every node of the state, in its order) for `job`.
    pub fn new<'n>(job: &Job, nodes: impl IntoIterator<Item = &'n Arc<Node>>) -> Candidates {
        let mut base_metric = AllocMetric::default();
        let mut available: Vec<(String, i64)> = Vec::new();
        let mut class_ids: HashMap<&str, u32> = HashMap::new();
        let mut candidates = Vec::new();
        let mut classes = Vec::new();
        let mut capacity = Vec::new();
        let mut node_classes = Vec::new();
        let mut node_class_names: Vec<String> = Vec::new();
        for node in nodes {
            if !node.is_schedulable() || !feasible::in_node_pool(job, node) {
                continue;
            }
            base_metric.nodes_in_pool += 1;
            if !feasible::in_datacenters(job, node) {
                continue;
            }
            match available.iter_mut().find(|(dc, _)| *dc == node.datacenter) {
                Some((_, n)) => *n += 1,
                None => available.push((node.datacenter.clone(), 1)),
            }
            let class = if node.computed_class.is_empty() {
                NO_CLASS
            } else {
                let next = class_ids.len() as u32;
                *class_ids
                    .entry(node.computed_class.as_str())
                    .or_insert(next)
            };
            classes.push(class);
            let node_class = match node_class_names.iter().position(|c| *c == node.node_class) {
                Some(at) => at,
                None => {
                    node_class_names.push(node.node_class.clone());
                    node_class_names.len() - 1
                }
            };
            node_classes.push(node_class as u32);
            capacity.push(Capacity::of(node));
            candidates.push(Arc::clone(node));
        }
        base_metric.nodes_available = available.into_iter().collect();
        Candidates {
            by_id: candidates.is_sorted_by(|a, b| a.id < b.id),
            class_count: class_ids.len(),
            nodes: candidates,
            classes,
            capacity,
            node_classes,
            node_class_names,
            base_metric,
            attribute_values: Mutex::default(),
        }
    }

    /// The value of `attribute` (a spread's, such as `${node.datacenter}`) on each
    /// candidate, resolved once for all the evaluations that share these candidates.
    pub(crate) fn attribute_values(&self, attribute: &str) -> Arc<AttributeValues> {
        // A map of Arcs: a panicked holder cannot leave it half-written.
        let mut kept = self
            .attribute_values
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(found) = kept.get(attribute) {
            return Arc::clone(found);
        }
        let resolved = Arc::new(AttributeValues::resolve(
            &Target::parse(attribute),
            &self.nodes,
        ));
        kept.insert(attribute.to_string(), Arc::clone(&resolved));
        resolved
    }

    /// Candidate `i`'s `node_class`, read without touching the node.
    pub(super) fn node_class(&self, i: usize) -> &str {
        &self.node_class_names[self.node_classes[i] as usize]
    }

    /// The candidate nodes, in the state's order.
    pub fn nodes(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    /// The index of the candidate `id`, if it is one.
    pub(super) fn position(&self, id: &NodeId) -> Option<usize> {
        if self.by_id {
            self.nodes.binary_search_by(|n| n.id.cmp(id)).ok()
        } else {
            self.nodes.iter().position(|n| n.id == *id)
        }
    }
}

/// What decides a job's candidates besides the nodes: its pool and datacenters.
type CandidateKey = (String, Vec<String>);

/// Most distinct (pool, datacenters) sets kept; past it the cache starts over.
const CACHED_SETS_MAX: usize = 64;

/// [`Candidates`] per pool and datacenters, for one version of the node table (its
/// write index); a newer version replaces them all. Shared by the scheduler workers.
#[derive(Default)]
pub struct CandidateCache {
    kept: Mutex<(u64, HashMap<CandidateKey, Arc<Candidates>>)>,
}

impl CandidateCache {
    /// `job`'s candidates on the node table written last at `nodes_index`, from the cache
    /// or from `nodes` (every node, in the state's order).
    pub fn get<'n, I>(
        &self,
        nodes_index: u64,
        job: &Job,
        nodes: impl FnOnce() -> I,
    ) -> Arc<Candidates>
    where
        I: IntoIterator<Item = &'n Arc<Node>>,
    {
        let key: CandidateKey = (job.node_pool.clone(), job.datacenters.clone());
        {
            // A map of Arcs: a panicked holder cannot leave it half-written.
            let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            if kept.0 == nodes_index
                && let Some(found) = kept.1.get(&key)
            {
                return Arc::clone(found);
            }
        }
        // Built outside the lock: another worker may build the same set meanwhile, and
        // either result is right.
        let built = Arc::new(Candidates::new(job, nodes()));
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.0 != nodes_index {
            // An evaluation on an older snapshot does not evict the newer table's sets.
            if kept.0 > nodes_index {
                return built;
            }
            *kept = (nodes_index, HashMap::new());
        }
        if kept.1.len() >= CACHED_SETS_MAX {
            kept.1.clear();
        }
        kept.1.insert(key, Arc::clone(&built));
        built
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caravan_structs::{NodeEligibility, NodeStatus};

    fn node(id: &str, dc: &str, class: &str, status: NodeStatus) -> Arc<Node> {
        Arc::new(Node {
            id: id.into(),
            datacenter: dc.into(),
            computed_class: class.into(),
            status,
            scheduling_eligibility: NodeEligibility::Eligible,
            ..Node::default()
        })
    }

    fn job(datacenters: &[&str]) -> Job {
        Job {
            datacenters: datacenters.iter().map(|d| d.to_string()).collect(),
            ..Job::default()
        }
    }

    #[test]
    fn candidates_are_the_ready_nodes_of_the_datacenters_with_their_classes_numbered() {
        let nodes = [
            node("a", "dc1", "v1:1", NodeStatus::Ready),
            node("b", "dc2", "v1:2", NodeStatus::Ready),
            node("c", "dc1", "v1:2", NodeStatus::Down),
            node("d", "dc1", "", NodeStatus::Ready),
            node("e", "dc1", "v1:1", NodeStatus::Ready),
        ];
        let found = Candidates::new(&job(&["dc1"]), &nodes);
        let ids: Vec<&str> = found.nodes().iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["a", "d", "e"]);
        assert_eq!(found.classes, [0, NO_CLASS, 0]);
        assert_eq!(found.class_count, 1);
        assert_eq!(found.node_class(1), "");
        assert_eq!(found.base_metric.nodes_in_pool, 4);
        assert_eq!(found.base_metric.nodes_available.get("dc1"), Some(&3));
        assert_eq!(found.base_metric.nodes_available.get("dc2"), None);
    }

    #[test]
    fn a_candidates_index_is_found_in_the_states_order_or_any_other() {
        let ready = |id: &str| node(id, "dc1", "", NodeStatus::Ready);
        let in_order = [ready("a"), ready("b"), ready("c"), ready("e")];
        let shuffled = [ready("e"), ready("a"), ready("c"), ready("b")];
        for nodes in [&in_order, &shuffled] {
            let found = Candidates::new(&job(&["dc1"]), nodes);
            for (i, node) in found.nodes().iter().enumerate() {
                assert_eq!(found.position(&node.id), Some(i));
            }
            assert_eq!(found.position(&NodeId::from("d")), None);
            assert_eq!(found.position(&NodeId::from("f")), None);
        }
        assert!(Candidates::new(&job(&["dc1"]), &in_order).by_id);
        assert!(!Candidates::new(&job(&["dc1"]), &shuffled).by_id);
    }

    #[test]
    fn a_spread_attribute_is_resolved_once_for_every_evaluation_on_the_candidates() {
        let nodes = [
            node("a", "dc1", "x", NodeStatus::Ready),
            node("b", "dc2", "x", NodeStatus::Ready),
            node("c", "dc1", "x", NodeStatus::Ready),
        ];
        let found = Candidates::new(&job(&["dc1", "dc2"]), &nodes);
        let datacenters = found.attribute_values("${node.datacenter}");
        assert!(Arc::ptr_eq(
            &datacenters,
            &found.attribute_values("${node.datacenter}")
        ));
        assert_eq!(datacenters.values_of_candidates(), ["dc1", "dc2", "dc1"]);
        let missing = found.attribute_values("${meta.rack}");
        assert_eq!(missing.values_of_candidates(), [""; 0]);
    }

    #[test]
    fn the_cache_answers_per_node_table_version_and_datacenters() {
        let nodes = [
            node("a", "dc1", "x", NodeStatus::Ready),
            node("b", "dc2", "x", NodeStatus::Ready),
        ];
        let cache = CandidateCache::default();
        let built = std::cell::Cell::new(0);
        let get = |index: u64, dcs: &[&str]| {
            cache.get(index, &job(dcs), || {
                built.set(built.get() + 1);
                &nodes
            })
        };
        let first = get(7, &["dc1"]);
        assert!(Arc::ptr_eq(&first, &get(7, &["dc1"])));
        assert_eq!(get(7, &["dc1", "dc2"]).nodes().len(), 2);
        // A newer node table builds again; an older snapshot is answered, not kept.
        assert!(!Arc::ptr_eq(&first, &get(8, &["dc1"])));
        get(6, &["dc1"]);
        get(8, &["dc1"]);
        assert_eq!(built.get(), 4);
    }
}
