//! A [`SchedulerState`] over plain vectors, for the scheduler's table tests, its benches
//! and `caravan-testkit` (feature `testing`; never in a release build's code path).

use std::sync::Arc;

use caravan_structs::{Allocation, Deployment, Job, JobId, Node, NodeId};

use crate::SchedulerState;

/// A job, its allocations and the nodes, as plain vectors.
#[derive(Debug, Clone, Default)]
pub struct MemState {
    /// The job every lookup answers, whatever its ID.
    pub job: Option<Arc<Job>>,
    /// Every allocation, of any job and node.
    pub allocs: Vec<Arc<Allocation>>,
    /// Every node, in the order given.
    pub nodes: Vec<Arc<Node>>,
    /// The job's latest deployment.
    pub deployment: Option<Arc<Deployment>>,
}

impl SchedulerState for MemState {
    fn job(&self, _: &str, _: &JobId) -> Option<Arc<Job>> {
        self.job.clone()
    }
    fn allocs_by_job(&self, _: &str, id: &JobId) -> Vec<Arc<Allocation>> {
        self.allocs
            .iter()
            .filter(|a| a.job_id == *id)
            .cloned()
            .collect()
    }
    fn latest_deployment(&self, _: &str, _: &JobId) -> Option<Arc<Deployment>> {
        self.deployment.clone()
    }
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.clone()
    }
    fn node(&self, node_id: &NodeId) -> Option<Arc<Node>> {
        self.nodes.iter().find(|n| n.id == *node_id).cloned()
    }
    fn allocs_by_node(&self, node_id: &NodeId) -> Vec<Arc<Allocation>> {
        self.allocs
            .iter()
            .filter(|a| a.node_id == *node_id)
            .cloned()
            .collect()
    }
}
