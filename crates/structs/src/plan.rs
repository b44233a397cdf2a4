//! Plans: what one scheduler run wants changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AllocMetric, Allocation, Evaluation};

/// The scheduler's output for one evaluation. The server's plan applier checks it against
/// the latest state and commits what still fits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Plan {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub priority: i64,
    pub all_at_once: bool,
    /// Allocations to stop or mark lost, by node: full copies with the new desired or
    /// client status set.
    pub node_update: BTreeMap<String, Vec<Allocation>>,
    /// New allocations, by node.
    pub node_allocation: BTreeMap<String, Vec<Allocation>>,
    /// Groups that could not be placed, with why.
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// How many allocations of each group are still to be placed.
    pub queued_allocations: BTreeMap<String, i64>,
    /// Evaluations the scheduler asks to create (a blocked evaluation for the remainder).
    pub created_evals: Vec<Evaluation>,
}

impl Plan {
    /// Whether the plan changes nothing.
    pub fn is_no_op(&self) -> bool {
        self.node_update.values().all(Vec::is_empty)
            && self.node_allocation.values().all(Vec::is_empty)
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

/// What the scheduler would do to one task group (`DesiredUpdates`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DesiredUpdates {
    pub ignore: u64,
    pub place: u64,
    pub migrate: u64,
    pub stop: u64,
    pub in_place_update: u64,
    pub destructive_update: u64,
    pub canary: u64,
    pub preemptions: u64,
}

/// `PlanAnnotations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PlanAnnotations {
    #[serde(rename = "DesiredTGUpdates")]
    pub desired_tg_updates: BTreeMap<String, DesiredUpdates>,
}

/// `POST /v1/job/:id/plan` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobPlanRequest {
    pub job: Option<crate::Job>,
    pub diff: bool,
    pub policy_override: bool,
    /// Caravan's addition: explain every node's fate (`job plan -explain`).
    pub explain: bool,
}

/// `POST /v1/job/:id/plan` answer: what registering the job would change, computed by the
/// scheduler without committing anything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobPlanResponse {
    pub annotations: PlanAnnotations,
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    pub job_modify_index: u64,
    pub created_evals: Vec<Evaluation>,
    pub diff: Option<crate::diff::JobDiff>,
    pub next_periodic_launch: String,
    pub warnings: String,
    /// Caravan's addition: for each task group, every node and why it was or was not
    /// chosen (`job plan -explain`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_explanations: BTreeMap<String, Vec<NodeExplanation>>,
}

/// Why one node was or was not chosen for a task group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeExplanation {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    /// `placed` (N allocations would go here), `filtered`, `exhausted`, `not-ready` or
    /// `ranked` (feasible, scored, but another node won).
    pub outcome: String,
    /// The filter or exhausted dimension for `filtered`/`exhausted`.
    pub reason: String,
    /// How many of the group's allocations the plan puts here.
    pub placed: u64,
    /// The node's score components for the group's first placement, when scored.
    pub scores: BTreeMap<String, f64>,
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
