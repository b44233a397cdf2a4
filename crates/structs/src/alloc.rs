//! Allocations: one task group of one job version placed on one node.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    AllocClientStatus, AllocDeploymentStatus, AllocDesiredStatus, AllocId, AllocMetric,
    AllocatedResources, DeploymentId, EvalId, Job, JobId, NodeId, TaskStateKind,
};

/// An allocation (`GET /v1/allocation/:id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: AllocId,
    pub namespace: String,
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    pub name: String,
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    /// Shared by every allocation of one job version (and the state store's
    /// version table), so memory grows with job versions, not with count.
    pub job: Option<Arc<Job>>,
    pub task_group: String,
    pub allocated_resources: AllocatedResources,
    /// Shared by the versions of one allocation: a client's status report copies the
    /// allocation, never its placement metrics.
    pub metrics: Arc<AllocMetric>,
    pub desired_status: AllocDesiredStatus,
    pub desired_description: String,
    pub client_status: AllocClientStatus,
    pub client_description: String,
    pub task_states: BTreeMap<String, TaskState>,
    #[serde(rename = "PreviousAllocation")]
    pub previous_allocation: AllocId,
    #[serde(rename = "NextAllocation")]
    pub next_allocation: AllocId,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: EvalId,
    /// Earlier reschedules of this allocation's line, for the reschedule policy.
    pub reschedule_tracker: Option<RescheduleTracker>,
    /// The deployment that placed it, if any.
    #[serde(rename = "DeploymentID")]
    pub deployment_id: DeploymentId,
    /// Its health within that deployment, as its client (or an operator) judged it.
    pub deployment_status: Option<AllocDeploymentStatus>,
    /// What the servers were asked to do with it (`alloc stop`: migrate it).
    pub desired_transition: DesiredTransition,
    pub create_index: u64,
    pub modify_index: u64,
    pub alloc_modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

impl Allocation {
    /// Whether the server wants this allocation stopped or gone.
    pub fn server_terminal(&self) -> bool {
        matches!(
            self.desired_status,
            AllocDesiredStatus::Stop | AllocDesiredStatus::Evict
        )
    }

    /// Whether the client reports it finished for good.
    pub fn client_terminal(&self) -> bool {
        self.client_status.is_terminal()
    }

    /// Whether the allocation holds no resources any more.
    pub fn terminal(&self) -> bool {
        self.server_terminal() || self.client_terminal()
    }

    /// The job version this allocation was placed for.
    pub fn job_version(&self) -> u64 {
        self.job.as_ref().map(|j| j.version).unwrap_or(0)
    }

    /// Whether it was placed as a canary of its deployment.
    pub fn is_canary(&self) -> bool {
        self.deployment_status.as_ref().is_some_and(|s| s.canary)
    }

    /// Whether it was judged healthy for its deployment.
    pub fn deployment_healthy(&self) -> bool {
        self.deployment_status
            .as_ref()
            .is_some_and(AllocDeploymentStatus::is_healthy)
    }

    /// Whether it was judged unhealthy for its deployment.
    pub fn deployment_unhealthy(&self) -> bool {
        self.deployment_status
            .as_ref()
            .is_some_and(AllocDeploymentStatus::is_unhealthy)
    }

    /// The index in `job.group[N]`.
    pub fn index(&self) -> u64 {
        let Some(open) = self.name.rfind('[') else {
            return 0;
        };
        self.name[open + 1..]
            .trim_end_matches(']')
            .parse()
            .unwrap_or(0)
    }
}

/// `Allocation.DesiredTransition`: a change an operator asked for, which the scheduler
/// carries out on its next evaluation of the job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DesiredTransition {
    /// Stop it and place a replacement (`alloc stop`).
    pub migrate: Option<bool>,
    pub reschedule: Option<bool>,
    pub force_reschedule: Option<bool>,
    pub no_shutdown_delay: Option<bool>,
}

impl DesiredTransition {
    /// Whether the allocation is to be stopped and replaced.
    pub fn should_migrate(&self) -> bool {
        self.migrate == Some(true)
    }
}

/// The state of one task of an allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskState {
    pub state: TaskStateKind,
    pub failed: bool,
    pub restarts: u64,
    /// RFC 3339, or the zero time `0001-01-01T00:00:00Z` as Go marshals it.
    pub last_restart: String,
    pub started_at: String,
    pub finished_at: String,
    pub events: Vec<TaskEvent>,
}

/// `Allocation.RescheduleTracker`: the reschedules that led to this allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RescheduleTracker {
    pub events: Vec<RescheduleEvent>,
}

/// One reschedule: when, from which allocation and node, after what delay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RescheduleEvent {
    /// Unix nanoseconds.
    pub reschedule_time: i64,
    #[serde(rename = "PrevAllocID")]
    pub prev_alloc_id: AllocId,
    #[serde(rename = "PrevNodeID")]
    pub prev_node_id: NodeId,
    /// Nanoseconds.
    pub delay: i64,
}

/// Go's zero `time.Time` in JSON, which Nomad sends for times not yet reached.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One event in a task's history (`Received`, `Task Setup`, `Started`, `Terminated`...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskEvent {
    pub r#type: String,
    /// Unix nanoseconds.
    pub time: i64,
    pub message: String,
    pub display_message: String,
    pub details: BTreeMap<String, String>,
    pub exit_code: i64,
    pub signal: i64,
    pub restart_reason: String,
    pub driver_error: String,
    pub kill_timeout: i64,
    pub fails_task: bool,
    pub start_delay: i64,
}

/// What a client reports about one of its allocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocClientUpdate {
    #[serde(rename = "ID")]
    pub id: AllocId,
    pub client_status: AllocClientStatus,
    pub client_description: String,
    pub task_states: BTreeMap<String, TaskState>,
    /// Set once, when the client has judged the allocation's health for its deployment.
    pub deployment_status: Option<AllocDeploymentStatus>,
}
