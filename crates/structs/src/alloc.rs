//! Allocations: one task group of one job version placed on one node.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AllocMetric, AllocatedResources, Job};

/// Desired status: the allocation should run.
pub const ALLOC_DESIRED_RUN: &str = "run";
/// Desired status: the allocation should be stopped.
pub const ALLOC_DESIRED_STOP: &str = "stop";
/// Desired status: the allocation is being evicted.
pub const ALLOC_DESIRED_EVICT: &str = "evict";

/// Client status: placed, tasks not yet running.
pub const ALLOC_CLIENT_PENDING: &str = "pending";
/// Client status: tasks are running.
pub const ALLOC_CLIENT_RUNNING: &str = "running";
/// Client status: all tasks finished successfully.
pub const ALLOC_CLIENT_COMPLETE: &str = "complete";
/// Client status: a task failed.
pub const ALLOC_CLIENT_FAILED: &str = "failed";
/// Client status: its node went down.
pub const ALLOC_CLIENT_LOST: &str = "lost";

/// Task state: not yet started.
pub const TASK_STATE_PENDING: &str = "pending";
/// Task state: its process runs.
pub const TASK_STATE_RUNNING: &str = "running";
/// Task state: finished (successfully or not) and will not run again.
pub const TASK_STATE_DEAD: &str = "dead";

/// An allocation (`GET /v1/allocation/:id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub name: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job: Option<Job>,
    pub task_group: String,
    pub allocated_resources: AllocatedResources,
    pub metrics: AllocMetric,
    pub desired_status: String,
    pub desired_description: String,
    pub client_status: String,
    pub client_description: String,
    pub task_states: BTreeMap<String, TaskState>,
    #[serde(rename = "PreviousAllocation")]
    pub previous_allocation: String,
    #[serde(rename = "NextAllocation")]
    pub next_allocation: String,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    /// Earlier reschedules of this allocation's line, for the reschedule policy.
    pub reschedule_tracker: Option<RescheduleTracker>,
    pub create_index: u64,
    pub modify_index: u64,
    pub alloc_modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

impl Allocation {
    /// Whether the server wants this allocation stopped or gone.
    pub fn server_terminal(&self) -> bool {
        self.desired_status == ALLOC_DESIRED_STOP || self.desired_status == ALLOC_DESIRED_EVICT
    }

    /// Whether the client reports it finished for good.
    pub fn client_terminal(&self) -> bool {
        matches!(
            self.client_status.as_str(),
            ALLOC_CLIENT_COMPLETE | ALLOC_CLIENT_FAILED | ALLOC_CLIENT_LOST
        )
    }

    /// Whether the allocation holds no resources any more.
    pub fn terminal(&self) -> bool {
        self.server_terminal() || self.client_terminal()
    }

    /// The job version this allocation was placed for.
    pub fn job_version(&self) -> u64 {
        self.job.as_ref().map(|j| j.version).unwrap_or(0)
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

/// The state of one task of an allocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskState {
    pub state: String,
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
    pub prev_alloc_id: String,
    #[serde(rename = "PrevNodeID")]
    pub prev_node_id: String,
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
    pub id: String,
    pub client_status: String,
    pub client_description: String,
    pub task_states: BTreeMap<String, TaskState>,
}
