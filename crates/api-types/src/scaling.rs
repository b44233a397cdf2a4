//! Scaling: `job scale`'s request and the job's scale status (`/v1/job/:id/scale`), the
//! scaling policy list entry (`/v1/scaling/policies`).

use std::collections::BTreeMap;

use caravan_structs::{ScalingEvent, ScalingPolicy};
use serde::{Deserialize, Serialize};

/// `POST /v1/job/:id/scale` body (Nomad's `api.ScalingRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobScaleRequest {
    /// The group's new count; none records only the event.
    pub count: Option<i64>,
    /// `Group` names the group; `Namespace` and `Job`, when given, must be the request's.
    pub target: BTreeMap<String, String>,
    pub message: String,
    pub error: bool,
    #[serde(default, deserialize_with = "caravan_structs::json::without_nulls")]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub policy_override: bool,
    /// With `enforce_index`, the job is scaled only at this job modify index.
    pub enforce_index: bool,
    pub job_modify_index: u64,
}

/// `GET /v1/job/:id/scale` answer (Nomad's `JobScaleStatus`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobScaleStatus {
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub namespace: String,
    pub job_create_index: u64,
    pub job_modify_index: u64,
    pub job_stopped: bool,
    pub task_groups: BTreeMap<String, TaskGroupScaleStatus>,
}

/// One group of a [`JobScaleStatus`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskGroupScaleStatus {
    pub desired: i64,
    pub placed: i64,
    pub running: i64,
    pub healthy: i64,
    pub unhealthy: i64,
    /// Newest first.
    pub events: Vec<ScalingEvent>,
}

/// `GET /v1/scaling/policies` entry (Nomad's `ScalingPolicyListStub`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScalingPolicyListStub {
    #[serde(rename = "ID")]
    pub id: String,
    pub enabled: bool,
    pub r#type: String,
    pub target: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl ScalingPolicyListStub {
    /// The list entry of a stored policy.
    pub fn new(policy: &ScalingPolicy) -> ScalingPolicyListStub {
        ScalingPolicyListStub {
            id: policy.id.clone(),
            enabled: policy.enabled.unwrap_or(true),
            r#type: policy.r#type.clone(),
            target: policy.target.clone(),
            create_index: policy.create_index,
            modify_index: policy.modify_index,
        }
    }
}
