//! A consistent, immutable view of the whole state at one index.

use std::sync::Arc;

use std::ops::Bound;

use caravan_structs::ids::AsId;
use caravan_structs::{
    AllocId, Allocation, EvalId, Evaluation, Job, JobId, JobSummary, Node, NodeId,
};
use imbl::{OrdMap, OrdSet, Vector};
use serde::{Deserialize, Serialize};

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
#[serde(default)]
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
    pub(crate) allocs_by_job: OrdMap<JobKey, OrdSet<AllocId>>,
    pub(crate) allocs_by_node: OrdMap<NodeId, OrdSet<AllocId>>,
    pub(crate) nodes: OrdMap<NodeId, Arc<Node>>,
    /// The index at which allocations of a node were last garbage-collected: a client's
    /// long-poll must wake for a removal as for a change.
    pub(crate) node_allocs_removed: OrdMap<NodeId, u64>,
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
        self.ids_to(
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
        self.ids_to(
            &self
                .allocs_by_job
                .get(&key(namespace, id))
                .cloned()
                .unwrap_or_default(),
            &self.allocs,
        )
    }

    /// Allocations placed on a node.
    pub fn allocs_by_node(&self, node_id: &(impl AsId<NodeId> + ?Sized)) -> Vec<Arc<Allocation>> {
        self.ids_to(
            &self
                .allocs_by_node
                .get(node_id.as_id_str())
                .cloned()
                .unwrap_or_default(),
            &self.allocs,
        )
    }

    /// The index at which the node's allocations last changed, removals by the garbage
    /// collector included: what a client's long-poll on its allocations waits past.
    pub fn node_allocs_index(&self, node_id: &(impl AsId<NodeId> + ?Sized)) -> u64 {
        let node_id = node_id.as_id_str();
        let changed = self
            .allocs_by_node
            .get(node_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.allocs.get(id))
            .map(|a| a.alloc_modify_index)
            .max()
            .unwrap_or(0);
        changed.max(self.node_allocs_removed.get(node_id).copied().unwrap_or(0))
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

    fn ids_to<K: Ord + Clone, T>(&self, ids: &OrdSet<K>, table: &OrdMap<K, Arc<T>>) -> Vec<Arc<T>> {
        ids.iter().filter_map(|id| table.get(id).cloned()).collect()
    }
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
