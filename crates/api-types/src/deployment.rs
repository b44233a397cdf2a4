//! Deployment request bodies (`/v1/deployment/*`, `/v1/job/:id/stable`); the answers
//! are [`caravan_structs::Deployment`] and [`caravan_structs::DeploymentUpdateResponse`].

use caravan_structs::{AllocId, DeploymentId, JobId};
use serde::{Deserialize, Serialize};

/// `POST /v1/deployment/promote/:id` (Nomad's `DeploymentPromoteRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentPromoteRequest {
    #[serde(rename = "DeploymentID")]
    pub deployment_id: DeploymentId,
    /// Promote every group with canaries.
    pub all: bool,
    /// Or only these.
    pub groups: Option<Vec<String>>,
}

/// `POST /v1/deployment/pause/:id` (Nomad's `DeploymentPauseRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentPauseRequest {
    #[serde(rename = "DeploymentID")]
    pub deployment_id: DeploymentId,
    /// Pause, or (false) resume.
    pub pause: bool,
}

/// `POST /v1/deployment/allocation-health/:id` (Nomad's `DeploymentAllocHealthRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentAllocHealthRequest {
    #[serde(rename = "DeploymentID")]
    pub deployment_id: DeploymentId,
    #[serde(rename = "HealthyAllocationIDs")]
    pub healthy_allocation_ids: Option<Vec<AllocId>>,
    /// Go decodes JSON keys case-insensitively, and python-nomad sends
    /// `UnHealthyAllocationIDs`.
    #[serde(rename = "UnhealthyAllocationIDs", alias = "UnHealthyAllocationIDs")]
    pub unhealthy_allocation_ids: Option<Vec<AllocId>>,
}

/// `POST /v1/job/:id/stable` (Nomad's `JobStabilityRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobStabilityRequest {
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    pub job_version: u64,
    pub stable: bool,
}

/// The answer to `POST /v1/job/:id/stable` (Nomad's `JobStabilityResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobStabilityResponse {
    pub index: u64,
}
