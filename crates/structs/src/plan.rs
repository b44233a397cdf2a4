//! Plans: what one scheduler run wants changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    AllocMetric, Allocation, Deployment, DeploymentStatusUpdate, EvalId, Evaluation, NodeId,
};

/// The scheduler's output for one evaluation. The server's plan applier checks it against
/// the latest state and commits what still fits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Plan {
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    pub priority: i64,
    pub all_at_once: bool,
    /// Allocations to stop or mark lost, by node: full copies with the new desired or
    /// client status set.
    pub node_update: BTreeMap<NodeId, Vec<Allocation>>,
    /// New allocations, by node.
    pub node_allocation: BTreeMap<NodeId, Vec<Allocation>>,
    /// Groups that could not be placed, with why.
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// How many allocations of each group are still to be placed.
    pub queued_allocations: BTreeMap<String, i64>,
    /// Evaluations the scheduler asks to create (a blocked evaluation for the remainder).
    pub created_evals: Vec<Evaluation>,
    /// A deployment the plan creates (a new job version's rollout).
    pub deployment: Option<Deployment>,
    /// Deployments the plan cancels or completes.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
}

impl Plan {
    /// Whether the plan changes nothing.
    pub fn is_no_op(&self) -> bool {
        self.node_update.values().all(Vec::is_empty)
            && self.node_allocation.values().all(Vec::is_empty)
            && self.deployment.is_none()
            && self.deployment_updates.is_empty()
    }

    /// Adds a new allocation.
    pub fn append_alloc(&mut self, alloc: Allocation) {
        self.node_allocation
            .entry(alloc.node_id.clone())
            .or_default()
            .push(alloc);
    }

    /// Adds a stop (or other status change) of an existing allocation.
    pub fn append_update(&mut self, alloc: Allocation) {
        self.node_update
            .entry(alloc.node_id.clone())
            .or_default()
            .push(alloc);
    }
}

/// Nomad's `SchedulerConfiguration` (`/v1/operator/scheduler/configuration`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SchedulerConfiguration {
    /// `binpack` (default) or `spread`.
    pub scheduler_algorithm: String,
    pub memory_oversubscription_enabled: bool,
    pub reject_job_registration: bool,
    pub pause_eval_broker: bool,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Default for SchedulerConfiguration {
    fn default() -> Self {
        SchedulerConfiguration {
            scheduler_algorithm: "binpack".to_string(),
            memory_oversubscription_enabled: false,
            reject_job_registration: false,
            pause_eval_broker: false,
            create_index: 0,
            modify_index: 0,
        }
    }
}
