//! A consistent, immutable view of the whole state at one index.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use caravan_structs::ids::AsId;
use caravan_structs::{
    AllocId, Allocation, EvalId, Evaluation, Job, JobId, JobSummary, Node, NodeId, ResourceUsage,
    TaskGroupSummary,
};
use imbl::{OrdMap, OrdSet, Vector};
use serde::{Deserialize, Serialize};

use crate::summary::StatusCount;

/// `(namespace, job ID)`.
pub(crate) type JobKey = (String, JobId);

/// How many old versions of a job are kept (Nomad: `JobTrackedVersions`).
pub const JOB_TRACKED_VERSIONS: usize = 6;

/// The state at one index. Cloning is cheap; nothing in it ever changes. Two snapshots
/// are equal when every table is: what replaying a command log must reproduce.
///
/// It serializes whole (serde, self-describing formats only: the tables are maps with
/// tuple keys), which is what a replicated log's snapshot holds.
#[derive(Clone, Default, PartialEq, Debug, Serialize, Deserialize)]
#[serde(default, remote = "Self")]
pub struct Snapshot {
    /// The index of the write that produced this snapshot.
    pub index: u64,
    pub(crate) jobs: OrdMap<JobKey, Arc<Job>>,
    /// Newest first.
    pub(crate) job_versions: OrdMap<JobKey, Vector<Arc<Job>>>,
    pub(crate) job_summaries: OrdMap<JobKey, Arc<JobSummary>>,
    pub(crate) evals: OrdMap<EvalId, Arc<Evaluation>>,
    pub(crate) evals_by_job: OrdMap<JobKey, OrdSet<EvalId>>,
    #[serde(
        serialize_with = "crate::shared_jobs::serialize_allocs",
        deserialize_with = "crate::shared_jobs::deserialize_allocs"
    )]
    pub(crate) allocs: OrdMap<AllocId, Arc<Allocation>>,
    /// The IDs of the allocations by job, and by node with each one's
    /// `AllocModifyIndex` (what a client's long-poll lists without reading the
    /// allocations). IDs rather than the allocations: most writes to the table are
    /// clients' reports, which change neither, so they leave both indexes as they are
    /// (rewriting them was a twentieth of the server's time placing a million
    /// allocations). Derived from `allocs`, so not encoded (rebuilt when decoded).
    #[serde(skip)]
    pub(crate) allocs_by_job: OrdMap<JobKey, OrdSet<AllocId>>,
    #[serde(skip)]
    pub(crate) allocs_by_node: OrdMap<NodeId, OrdMap<AllocId, u64>>,
    /// What each node's live allocations hold, kept as they change: the bin-packer
    /// looks at thousands of nodes per evaluation and the plan applier at every node of
    /// a plan, and adding up each one's allocations was most of their work. Derived,
    /// like the indexes above.
    #[serde(skip)]
    pub(crate) node_usage: OrdMap<NodeId, ResourceUsage>,
    /// Each job's allocations counted by task group and client status (a job
    /// summary's counts, without `Queued`), kept as they change: every client report
    /// re-summarized its jobs, a thousand allocations each. Derived, like the indexes.
    #[serde(skip)]
    pub(crate) alloc_counts: OrdMap<JobKey, BTreeMap<String, TaskGroupSummary>>,
    pub(crate) nodes: OrdMap<NodeId, Arc<Node>>,
    /// The index at which a node's allocations last changed for its client (placed,
    /// updated by a scheduler, garbage-collected): what the client's long-poll waits
    /// past, kept per node so that each of thousands of long-polls woken by a write
    /// answers from one lookup. Snapshots written before it held removals only
    /// (`node_allocs_removed`); decoding completes those.
    #[serde(alias = "node_allocs_removed")]
    pub(crate) node_allocs_index: OrdMap<NodeId, u64>,
    /// When each node last lost an allocation, for its client's long-poll. Not state:
    /// never encoded, and equal in every snapshot.
    #[serde(skip)]
    pub(crate) alloc_removals: AllocRemovals,
    /// The nodes whose allocation index the write that made this snapshot moved, so
    /// that the store wakes only their clients' long-polls. Not state: never encoded,
    /// and equal in every snapshot.
    #[serde(skip)]
    pub(crate) allocs_changed_on: ThisWrite<NodeId>,
    /// The allocations the write that made this snapshot stored, so that its events
    /// are read from them rather than from all of their jobs' allocations. Not state,
    /// as above.
    #[serde(skip)]
    pub(crate) allocs_written: ThisWrite<Arc<Allocation>>,
    /// Set once an operator changed it; until then the agent's `default_scheduler_config`.
    pub(crate) scheduler_config: Option<Arc<caravan_structs::SchedulerConfiguration>>,
    pub(crate) table_index: TableIndexes,
    /// ACL policies and tokens, namespaces.
    pub(crate) security: crate::security::SecurityTables,
    /// Deployments, by ID and by job.
    pub(crate) deployments: crate::deployments::DeploymentTables,
    /// Scaling policies and scaling events.
    pub(crate) scaling: crate::scaling::ScalingTables,
    /// Nomad-provider service registrations, by ID.
    pub(crate) services: OrdMap<String, Arc<caravan_structs::ServiceRegistration>>,
    /// Variables (sealed) and the root keys that seal them.
    pub(crate) variables: crate::variables::VariableTables,
}

/// The derived serde code above, wrapped: what is not encoded (the allocation indexes)
/// is built again when decoded, and allocations share their job versions.
impl Serialize for Snapshot {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Snapshot::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Snapshot, D::Error> {
        let mut snapshot = Snapshot::deserialize(deserializer)?;
        snapshot.share_job_versions();
        snapshot.index_allocs();
        snapshot.alloc_removals = AllocRemovals::known_from(snapshot.index);
        Ok(snapshot)
    }
}

/// What one write noted while applying ([`Snapshot::allocs_changed_on`],
/// [`Snapshot::allocs_written`]). A clone starts empty: the list belongs to the write
/// that filled it.
#[derive(Debug)]
pub(crate) struct ThisWrite<T>(pub(crate) Vec<T>);

impl<T> Default for ThisWrite<T> {
    fn default() -> ThisWrite<T> {
        ThisWrite(Vec::new())
    }
}

impl<T> Clone for ThisWrite<T> {
    fn clone(&self) -> ThisWrite<T> {
        ThisWrite::default()
    }
}

impl<T> PartialEq for ThisWrite<T> {
    fn eq(&self, _: &ThisWrite<T>) -> bool {
        true
    }
}

/// The index at which an allocation was last removed from each node (collected or
/// purged): a client whose long-poll index is at or past it has lost nothing since, so
/// its answer need not list the node's unchanged allocations. A decoded or restored
/// state knows of no removal before `known_from`, and answers as if every node lost
/// one there. What a server knows, not what the log says: it is left out of equality.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllocRemovals {
    pub(crate) by_node: OrdMap<NodeId, u64>,
    pub(crate) known_from: u64,
}

impl AllocRemovals {
    /// A state that knows of no removal before `index`.
    pub(crate) fn known_from(index: u64) -> AllocRemovals {
        AllocRemovals {
            by_node: OrdMap::new(),
            known_from: index,
        }
    }
}

impl PartialEq for AllocRemovals {
    fn eq(&self, _: &AllocRemovals) -> bool {
        true
    }
}

/// The index of the last write to each table, as blocking queries report it.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableIndexes {
    pub jobs: u64,
    pub evals: u64,
    pub allocs: u64,
    pub nodes: u64,
    pub job_summary: u64,
    pub services: u64,
}

fn key(namespace: &str, id: &(impl AsId<JobId> + ?Sized)) -> JobKey {
    (namespace.to_string(), JobId::from(id.as_id_str()))
}

impl Snapshot {
    /// Per-table write indexes.
    pub fn table_index(&self) -> TableIndexes {
        self.table_index
    }

    /// The job, if registered (stopped jobs included, purged ones not).
    pub fn job(&self, namespace: &str, id: &(impl AsId<JobId> + ?Sized)) -> Option<Arc<Job>> {
        self.jobs.get(&key(namespace, id)).cloned()
    }

    /// All jobs of a namespace (`*` = every namespace) whose ID starts with `prefix`.
    pub fn jobs_by_prefix(&self, namespace: &str, prefix: &str) -> Vec<Arc<Job>> {
        self.jobs
            .iter()
            .filter(|((ns, id), _)| {
                (namespace == "*" || ns == namespace) && id.as_str().starts_with(prefix)
            })
            .map(|(_, job)| job.clone())
            .collect()
    }

    /// Every job in every namespace.
    pub fn all_jobs(&self) -> impl Iterator<Item = &Arc<Job>> {
        self.jobs.values()
    }

    /// The jobs a periodic or parameterized job launched (`ParentID` = `parent`), whose IDs
    /// all start with `<parent>/`, in ID order.
    pub fn children(&self, namespace: &str, parent: &(impl AsId<JobId> + ?Sized)) -> Vec<Arc<Job>> {
        let parent = parent.as_id_str();
        let prefix = format!("{parent}/");
        self.jobs
            .range(key(namespace, prefix.as_str())..)
            .take_while(|((ns, id), _)| ns == namespace && id.as_str().starts_with(&prefix))
            .filter(|(_, job)| job.parent_id == parent)
            .map(|(_, job)| job.clone())
            .collect()
    }

    /// Stored versions of a job, newest first.
    pub fn job_versions(&self, namespace: &str, id: &(impl AsId<JobId> + ?Sized)) -> Vec<Arc<Job>> {
        self.job_versions
            .get(&key(namespace, id))
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// One stored version of a job.
    pub fn job_version(
        &self,
        namespace: &str,
        id: &(impl AsId<JobId> + ?Sized),
        version: u64,
    ) -> Option<Arc<Job>> {
        self.job_versions
            .get(&key(namespace, id))?
            .iter()
            .find(|j| j.version == version)
            .cloned()
    }

    /// The job's allocation counts.
    pub fn job_summary(
        &self,
        namespace: &str,
        id: &(impl AsId<JobId> + ?Sized),
    ) -> Option<Arc<JobSummary>> {
        self.job_summaries.get(&key(namespace, id)).cloned()
    }

    /// The evaluation with this exact ID.
    pub fn eval(&self, id: &(impl AsId<EvalId> + ?Sized)) -> Option<Arc<Evaluation>> {
        self.evals.get(id.as_id_str()).cloned()
    }

    /// Evaluations whose ID starts with `prefix`, in ID order.
    pub fn evals_by_prefix(&self, prefix: &str) -> Vec<Arc<Evaluation>> {
        by_prefix(&self.evals, prefix)
    }

    /// A job's evaluations, in ID order.
    pub fn evals_by_job(
        &self,
        namespace: &str,
        id: &(impl AsId<JobId> + ?Sized),
    ) -> Vec<Arc<Evaluation>> {
        ids_to(
            &self
                .evals_by_job
                .get(&key(namespace, id))
                .cloned()
                .unwrap_or_default(),
            &self.evals,
        )
    }

    /// The allocation with this exact ID.
    pub fn alloc(&self, id: &(impl AsId<AllocId> + ?Sized)) -> Option<Arc<Allocation>> {
        self.allocs.get(id.as_id_str()).cloned()
    }

    /// Allocations whose ID starts with `prefix`, in ID order.
    pub fn allocs_by_prefix(&self, prefix: &str) -> Vec<Arc<Allocation>> {
        by_prefix(&self.allocs, prefix)
    }

    /// Every allocation.
    pub fn all_allocs(&self) -> impl Iterator<Item = &Arc<Allocation>> {
        self.allocs.values()
    }

    /// A job's allocations, of every version.
    pub fn allocs_by_job(
        &self,
        namespace: &str,
        id: &(impl AsId<JobId> + ?Sized),
    ) -> Vec<Arc<Allocation>> {
        self.allocs_by_job
            .get(&key(namespace, id))
            .map(|ids| ids_to(ids, &self.allocs))
            .unwrap_or_default()
    }

    /// Allocations placed on a node.
    pub fn allocs_by_node(&self, node_id: &(impl AsId<NodeId> + ?Sized)) -> Vec<Arc<Allocation>> {
        self.allocs_by_node
            .get(node_id.as_id_str())
            .map(|allocs| ids_to(allocs.keys(), &self.allocs))
            .unwrap_or_default()
    }

    /// Whether the allocation `id` is placed on the node, read from the node's index
    /// (a few hundred entries) rather than the table of every allocation.
    pub fn node_has_alloc(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        id: &(impl AsId<AllocId> + ?Sized),
    ) -> bool {
        self.allocs_by_node
            .get(node_id.as_id_str())
            .is_some_and(|allocs| allocs.contains_key(id.as_id_str()))
    }

    /// The IDs of the allocations placed on a node with their `AllocModifyIndex`, read
    /// without reading the allocations.
    pub fn node_alloc_indexes(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
    ) -> impl Iterator<Item = (&AllocId, u64)> {
        self.allocs_by_node
            .get(node_id.as_id_str())
            .into_iter()
            .flat_map(|allocs| allocs.iter().map(|(id, index)| (id, *index)))
    }

    /// What the live allocations on a node hold.
    pub fn node_usage(&self, node_id: &(impl AsId<NodeId> + ?Sized)) -> ResourceUsage {
        self.node_usage
            .get(node_id.as_id_str())
            .copied()
            .unwrap_or_default()
    }

    /// What the live allocations on each of `nodes` hold, handed to `each` with the
    /// node's position: one walk of the sums when `nodes` come in ID order (as
    /// [`Snapshot::all_nodes`] lists them), a lookup for each one that does not. A large
    /// evaluation reads every candidate's usage, and a lookup per node of ten thousand
    /// cost more than the walk (a million-allocation run placed about 4% more per
    /// second with it).
    pub fn node_usages<'n>(
        &self,
        nodes: impl IntoIterator<Item = &'n NodeId>,
        mut each: impl FnMut(usize, ResourceUsage),
    ) {
        let mut sums = self.node_usage.iter().peekable();
        let mut last: Option<&NodeId> = None;
        for (i, id) in nodes.into_iter().enumerate() {
            if last.is_some_and(|last| id < last) {
                each(i, self.node_usage(id));
                continue;
            }
            last = Some(id);
            while sums.next_if(|(sum_id, _)| *sum_id < id).is_some() {}
            match sums.peek() {
                Some((sum_id, used)) if *sum_id == id => each(i, **used),
                _ => each(i, ResourceUsage::default()),
            }
        }
    }

    /// The allocation `id`, if it is placed on `node_id`.
    pub fn alloc_on_node(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        id: &(impl AsId<AllocId> + ?Sized),
    ) -> Option<Arc<Allocation>> {
        // The node's index first: the plan applier asks this of every placement, whose
        // ID the table of a million does not hold yet, and the node's few hundred say
        // so sooner.
        if !self.node_has_alloc(node_id, id) {
            return None;
        }
        self.allocs.get(id.as_id_str()).cloned()
    }

    /// The index at which the node's allocations last changed, removals by the garbage
    /// collector included: what a client's long-poll on its allocations waits past.
    pub fn node_allocs_index(&self, node_id: &(impl AsId<NodeId> + ?Sized)) -> u64 {
        self.node_allocs_index
            .get(node_id.as_id_str())
            .copied()
            .unwrap_or(0)
    }

    /// Whether an allocation of the node was removed after `index`, as far as this
    /// state knows: one restored or decoded at a later index cannot tell, and says so.
    pub fn node_allocs_removed_since(
        &self,
        node_id: &(impl AsId<NodeId> + ?Sized),
        index: u64,
    ) -> bool {
        index < self.alloc_removals.known_from
            || self
                .alloc_removals
                .by_node
                .get(node_id.as_id_str())
                .is_some_and(|removed| *removed > index)
    }

    /// After a whole state was decoded: the allocation indexes are built from the
    /// allocation table, and every node's allocation index is at least its allocations'
    /// newest `AllocModifyIndex` (a snapshot from before that index was kept per node
    /// recorded only removals).
    pub(crate) fn index_allocs(&mut self) {
        self.allocs_by_job = OrdMap::new();
        self.allocs_by_node = OrdMap::new();
        self.node_usage = OrdMap::new();
        self.alloc_counts = OrdMap::new();
        let allocs = self.allocs.clone();
        for alloc in allocs.values() {
            self.index_alloc(alloc);
            self.count_usage(None, Some(alloc));
            self.count_status(None, Some(alloc));
            let seen = self
                .node_allocs_index
                .entry(alloc.node_id.clone())
                .or_insert(0);
            *seen = (*seen).max(alloc.alloc_modify_index);
        }
    }

    /// Records that the allocations of `node_id` changed at `index`: what its client's
    /// long-poll waits past, and a wake for that long-poll when the write is published.
    pub(crate) fn node_allocs_changed(&mut self, node_id: &NodeId, index: u64) {
        self.node_allocs_index.insert(node_id.clone(), index);
        self.allocs_changed_on.0.push(node_id.clone());
    }

    /// Stores an allocation in the table and, where it is new or what they hold of it
    /// changed, in the indexes.
    pub(crate) fn store_alloc(&mut self, alloc: Arc<Allocation>) {
        self.allocs_written.0.push(alloc.clone());
        let before = self.allocs.insert(alloc.id.clone(), alloc.clone());
        match before.as_deref() {
            None => self.index_alloc(&alloc),
            Some(old)
                if old.node_id != alloc.node_id
                    || old.job_id != alloc.job_id
                    || old.namespace != alloc.namespace =>
            {
                self.unindex_alloc(old);
                self.index_alloc(&alloc);
            }
            Some(old) if old.alloc_modify_index != alloc.alloc_modify_index => {
                self.index_on_node(&alloc);
            }
            // A client's report: neither index holds what it changes.
            Some(_) => {}
        }
        self.count_usage(before.as_deref(), Some(&alloc));
        self.count_status(before.as_deref(), Some(&alloc));
    }

    /// Moves an allocation's count in its job's [`Snapshot::alloc_counts`] from
    /// `before`'s status to `after`'s.
    fn count_status(&mut self, before: Option<&Allocation>, after: Option<&Allocation>) {
        let same = match (before, after) {
            (Some(old), Some(new)) => {
                old.task_group == new.task_group && StatusCount::of(old) == StatusCount::of(new)
            }
            _ => false,
        };
        if same {
            return;
        }
        for (alloc, by) in [(before, -1), (after, 1)] {
            let Some(alloc) = alloc else { continue };
            let Some(count) = StatusCount::of(alloc) else {
                continue;
            };
            let job = key(&alloc.namespace, &alloc.job_id);
            let groups = self.alloc_counts.entry(job.clone()).or_default();
            let counts = match groups.get_mut(&alloc.task_group) {
                Some(counts) => counts,
                None => groups.entry(alloc.task_group.clone()).or_default(),
            };
            *count.in_summary(counts) += by;
            if *counts == TaskGroupSummary::default() {
                groups.remove(&alloc.task_group);
                if groups.is_empty() {
                    self.alloc_counts.remove(&job);
                }
            }
        }
    }

    /// A job's allocations counted by task group and client status.
    pub(crate) fn alloc_counts(&self, job: &JobKey) -> Option<&BTreeMap<String, TaskGroupSummary>> {
        self.alloc_counts.get(job)
    }

    /// Moves the node usage from what `before` held (if it was live) to what `after`
    /// holds (if it is). A client's status report changes nothing it holds, and writes
    /// nothing here.
    fn count_usage(&mut self, before: Option<&Allocation>, after: Option<&Allocation>) {
        fn live(alloc: Option<&Allocation>) -> Option<&Allocation> {
            alloc.filter(|a| !a.terminal())
        }
        match (live(before), live(after)) {
            (Some(old), Some(new)) if old.node_id == new.node_id => {
                let (was, is) = (ResourceUsage::of(old), ResourceUsage::of(new));
                if was != is {
                    self.add_usage(&new.node_id, is - was);
                }
            }
            (old, new) => {
                if let Some(old) = old {
                    self.add_usage(&old.node_id, -ResourceUsage::of(old));
                }
                if let Some(new) = new {
                    self.add_usage(&new.node_id, ResourceUsage::of(new));
                }
            }
        }
    }

    fn add_usage(&mut self, node_id: &NodeId, amount: ResourceUsage) {
        let used = self.node_usage.entry(node_id.clone()).or_default();
        *used += amount;
        if used.is_zero() {
            self.node_usage.remove(node_id);
        }
    }

    fn index_alloc(&mut self, alloc: &Allocation) {
        self.allocs_by_job
            .entry(key(&alloc.namespace, &alloc.job_id))
            .or_default()
            .insert(alloc.id.clone());
        self.index_on_node(alloc);
    }

    /// Writes an allocation's `AllocModifyIndex` in its node's index.
    fn index_on_node(&mut self, alloc: &Allocation) {
        self.allocs_by_node
            .entry(alloc.node_id.clone())
            .or_default()
            .insert(alloc.id.clone(), alloc.alloc_modify_index);
    }

    /// Removes an allocation from both indexes.
    fn unindex_alloc(&mut self, alloc: &Allocation) {
        let job = key(&alloc.namespace, &alloc.job_id);
        if let Some(allocs) = self.allocs_by_job.get_mut(&job) {
            allocs.remove(&alloc.id);
            if allocs.is_empty() {
                self.allocs_by_job.remove(&job);
            }
        }
        if let Some(allocs) = self.allocs_by_node.get_mut(&alloc.node_id) {
            allocs.remove(&alloc.id);
            if allocs.is_empty() {
                self.allocs_by_node.remove(&alloc.node_id);
            }
        }
    }

    /// Removes an allocation from the table and both indexes.
    pub(crate) fn remove_alloc(&mut self, id: &AllocId) -> Option<Arc<Allocation>> {
        let alloc = self.allocs.remove(id)?;
        self.count_usage(Some(&alloc), None);
        self.count_status(Some(&alloc), None);
        self.unindex_alloc(&alloc);
        Some(alloc)
    }

    /// The scheduler configuration an operator set, if one did.
    pub fn scheduler_config(&self) -> Option<Arc<caravan_structs::SchedulerConfiguration>> {
        self.scheduler_config.clone()
    }

    /// Every evaluation.
    pub fn all_evals(&self) -> impl Iterator<Item = &Arc<Evaluation>> {
        self.evals.values()
    }

    /// The node with this exact ID.
    pub fn node(&self, id: &(impl AsId<NodeId> + ?Sized)) -> Option<Arc<Node>> {
        self.nodes.get(id.as_id_str()).cloned()
    }

    /// Nodes whose ID starts with `prefix`, in ID order.
    pub fn nodes_by_prefix(&self, prefix: &str) -> Vec<Arc<Node>> {
        by_prefix(&self.nodes, prefix)
    }

    /// Every node.
    pub fn all_nodes(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.nodes.values()
    }
}

/// The rows of `table` with these keys, in the keys' order; a key with no row is left out.
fn ids_to<'k, K: Ord + Clone + 'k, T>(
    ids: impl IntoIterator<Item = &'k K>,
    table: &OrdMap<K, Arc<T>>,
) -> Vec<Arc<T>> {
    ids.into_iter()
        .filter_map(|id| table.get(id).cloned())
        .collect()
}

pub(crate) fn by_prefix<K, T>(table: &OrdMap<K, Arc<T>>, prefix: &str) -> Vec<Arc<T>>
where
    K: Ord + Clone + std::borrow::Borrow<str>,
{
    table
        .range::<_, str>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(|(id, _)| id.borrow().starts_with(prefix))
        .map(|(_, v)| v.clone())
        .collect()
}
