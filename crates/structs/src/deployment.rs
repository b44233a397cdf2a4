//! Deployments: one job version rolled out group by group under its `update` strategy
//! (`GET /v1/deployment/:id`), and the health an allocation earns within one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alloc::ZERO_TIME;
use crate::{AllocId, DeploymentId, EvalId, JobId};

/// `Deployment.Status` values.
pub mod status {
    pub const RUNNING: &str = "running";
    pub const PAUSED: &str = "paused";
    pub const FAILED: &str = "failed";
    pub const SUCCESSFUL: &str = "successful";
    pub const CANCELLED: &str = "cancelled";
    pub const BLOCKED: &str = "blocked";
    pub const UNBLOCKING: &str = "unblocking";
}

/// `Deployment.StatusDescription` texts, Nomad's words.
pub mod description {
    pub const RUNNING: &str = "Deployment is running";
    pub const RUNNING_NEEDS_PROMOTION: &str = "Deployment is running but requires manual promotion";
    pub const RUNNING_AUTO_PROMOTION: &str = "Deployment is running pending automatic promotion";
    pub const PAUSED: &str = "Deployment is paused";
    pub const SUCCESSFUL: &str = "Deployment completed successfully";
    pub const STOPPED_JOB: &str = "Cancelled because job is stopped";
    pub const NEWER_JOB: &str = "Cancelled due to newer version of job";
    pub const FAILED_ALLOCATIONS: &str = "Failed due to unhealthy allocations";
    pub const PROGRESS_DEADLINE: &str = "Failed due to progress deadline";
    pub const FAILED_BY_USER: &str = "Deployment marked as failed";

    /// A failure's description once auto-revert chose a version.
    pub fn rolling_back(failure: &str, version: u64) -> String {
        format!("{failure} - rolling back to job version {version}")
    }

    /// A failure's description when auto-revert found no stable version.
    pub fn no_rollback_target(failure: &str) -> String {
        format!("{failure} - no stable job version to auto revert to")
    }
}

/// One rollout of one job version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Deployment {
    #[serde(rename = "ID")]
    pub id: DeploymentId,
    pub namespace: String,
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    pub job_version: u64,
    pub job_modify_index: u64,
    pub job_spec_modify_index: u64,
    pub job_create_index: u64,
    pub is_multiregion: bool,
    pub task_groups: BTreeMap<String, DeploymentState>,
    pub status: String,
    pub status_description: String,
    pub eval_priority: i64,
    pub create_index: u64,
    pub modify_index: u64,
    /// Unix nanoseconds.
    pub create_time: i64,
    /// Unix nanoseconds.
    pub modify_time: i64,
}

/// How one group of a deployment stands (`DeploymentState`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentState {
    pub auto_revert: bool,
    pub auto_promote: bool,
    /// Nanoseconds; 0 disables the deadline.
    pub progress_deadline: i64,
    /// RFC 3339: the deployment fails if no allocation becomes healthy by then.
    pub require_progress_by: String,
    pub promoted: bool,
    pub placed_canaries: Vec<AllocId>,
    pub desired_canaries: i64,
    pub desired_total: i64,
    pub placed_allocs: i64,
    pub healthy_allocs: i64,
    pub unhealthy_allocs: i64,
}

impl DeploymentState {
    /// Whether the group's canaries wait for a promotion.
    pub fn awaits_promotion(&self) -> bool {
        self.desired_canaries > 0 && !self.promoted
    }

    /// Whether every canary the group wants is placed and healthy (the condition
    /// for a promotion).
    pub fn canaries_ready(&self, healthy_canaries: usize) -> bool {
        self.placed_canaries.len() as i64 >= self.desired_canaries
            && healthy_canaries as i64 >= self.desired_canaries
    }
}

impl Deployment {
    /// Whether the deployment may still change what runs (`running`, `paused`, or
    /// waiting on another region).
    pub fn active(&self) -> bool {
        matches!(
            self.status.as_str(),
            status::RUNNING | status::PAUSED | status::BLOCKED | status::UNBLOCKING
        )
    }

    /// Whether any group still waits for its canaries to be promoted.
    pub fn requires_promotion(&self) -> bool {
        self.task_groups
            .values()
            .any(DeploymentState::awaits_promotion)
    }

    /// Whether every group waiting for promotion promotes itself (`auto_promote`).
    pub fn auto_promotes(&self) -> bool {
        self.task_groups
            .values()
            .filter(|g| g.desired_canaries > 0)
            .all(|g| g.auto_promote)
    }

    /// Whether any group with a failure reverts the job (`auto_revert`).
    pub fn auto_reverts(&self) -> bool {
        self.task_groups.values().any(|g| g.auto_revert)
    }

    /// The description of a running deployment: whether it waits for a promotion and
    /// who will give it.
    pub fn running_description(&self) -> &'static str {
        if !self.requires_promotion() {
            description::RUNNING
        } else if self.auto_promotes() {
            description::RUNNING_AUTO_PROMOTION
        } else {
            description::RUNNING_NEEDS_PROMOTION
        }
    }
}

/// A status change of a deployment (`DeploymentStatusUpdate`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentStatusUpdate {
    #[serde(rename = "DeploymentID")]
    pub deployment_id: DeploymentId,
    pub status: String,
    pub status_description: String,
}

/// An allocation's health within its deployment (`AllocDeploymentStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocDeploymentStatus {
    /// `None` until judged.
    pub healthy: Option<bool>,
    /// RFC 3339: when the health was judged.
    pub timestamp: String,
    pub canary: bool,
    pub modify_index: u64,
}

impl Default for AllocDeploymentStatus {
    fn default() -> Self {
        AllocDeploymentStatus {
            healthy: None,
            timestamp: ZERO_TIME.to_string(),
            canary: false,
            modify_index: 0,
        }
    }
}

impl AllocDeploymentStatus {
    /// Whether the allocation was judged healthy.
    pub fn is_healthy(&self) -> bool {
        self.healthy == Some(true)
    }

    /// Whether the allocation was judged unhealthy.
    pub fn is_unhealthy(&self) -> bool {
        self.healthy == Some(false)
    }
}

/// What `POST /v1/deployment/*` answers (`DeploymentUpdateResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeploymentUpdateResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    pub eval_create_index: u64,
    pub deployment_modify_index: u64,
    /// Set when the update reverted the job.
    pub reverted_job_version: Option<u64>,
    pub index: u64,
}
