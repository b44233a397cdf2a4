//! Allocation bodies: the list entry and the restart request.

use std::collections::BTreeMap;

use caravan_structs::{
    AllocClientStatus, AllocDeploymentStatus, AllocDesiredStatus, AllocId, AllocatedResources,
    Allocation, EvalId, JobId, JobType, NodeId, TaskState,
};
use serde::{Deserialize, Serialize};

/// `GET /v1/job/:id/allocations` and `/v1/allocations` entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocationListStub {
    #[serde(rename = "ID")]
    pub id: AllocId,
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    /// Empty when the allocation carries no job.
    #[serde(with = "caravan_structs::status::empty_as_none")]
    pub job_type: Option<JobType>,
    pub job_version: u64,
    pub task_group: String,
    pub allocated_resources: AllocatedResources,
    pub desired_status: AllocDesiredStatus,
    pub desired_description: String,
    pub client_status: AllocClientStatus,
    pub client_description: String,
    pub task_states: BTreeMap<String, TaskState>,
    pub deployment_status: Option<AllocDeploymentStatus>,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: EvalId,
    pub next_allocation: AllocId,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

impl AllocationListStub {
    /// The list entry for an allocation.
    pub fn new(alloc: &Allocation) -> AllocationListStub {
        AllocationListStub {
            id: alloc.id.clone(),
            eval_id: alloc.eval_id.clone(),
            name: alloc.name.clone(),
            namespace: alloc.namespace.clone(),
            node_id: alloc.node_id.clone(),
            node_name: alloc.node_name.clone(),
            job_id: alloc.job_id.clone(),
            job_type: alloc.job.as_ref().and_then(|j| j.r#type),
            job_version: alloc.job_version(),
            task_group: alloc.task_group.clone(),
            allocated_resources: alloc.allocated_resources.clone(),
            desired_status: alloc.desired_status,
            desired_description: alloc.desired_description.clone(),
            client_status: alloc.client_status,
            client_description: alloc.client_description.clone(),
            task_states: alloc.task_states.clone(),
            deployment_status: alloc.deployment_status.clone(),
            followup_eval_id: alloc.followup_eval_id.clone(),
            next_allocation: alloc.next_allocation.clone(),
            create_index: alloc.create_index,
            modify_index: alloc.modify_index,
            create_time: alloc.create_time,
            modify_time: alloc.modify_time,
        }
    }
}

/// `PUT /v1/client/allocation/:id/restart` body (Nomad's `AllocationRestartRequest`);
/// both fields optional, an empty body allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocationRestartRequest {
    /// The task to restart; empty for every running task.
    pub task_name: String,
    /// Restart every task, stopped ones too.
    pub all_tasks: bool,
}

/// The answer to `POST /v1/allocation/:id/stop` (Nomad's `AllocStopResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocStopResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    pub index: u64,
}
