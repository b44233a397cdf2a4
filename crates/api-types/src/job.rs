//! Job bodies: the list entry, registration, plan, validate, revert, dispatch, periodic
//! force, versions and `/v1/jobs/parse`.

use std::collections::BTreeMap;

use caravan_structs::diff::JobDiff;
use caravan_structs::{
    AllocMetric, EvalId, Evaluation, Job, JobId, JobStatus, JobSummary, JobType, NodeId,
};
use serde::{Deserialize, Serialize};

/// `GET /v1/jobs` entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobListStub {
    #[serde(rename = "ID")]
    pub id: JobId,
    #[serde(rename = "ParentID")]
    pub parent_id: JobId,
    pub name: String,
    pub namespace: String,
    pub datacenters: Vec<String>,
    pub node_pool: String,
    #[serde(with = "caravan_structs::status::empty_as_none")]
    pub r#type: Option<JobType>,
    pub priority: i64,
    pub periodic: bool,
    pub parameterized_job: bool,
    pub stop: bool,
    #[serde(with = "caravan_structs::status::empty_as_none")]
    pub status: Option<JobStatus>,
    pub status_description: String,
    pub job_summary: JobSummary,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    pub submit_time: i64,
}

impl JobListStub {
    /// The list entry for a job and its summary.
    pub fn new(job: &Job, summary: JobSummary) -> JobListStub {
        JobListStub {
            id: job.id.clone(),
            parent_id: job.parent_id.clone(),
            name: job.name.clone(),
            namespace: job.namespace.clone(),
            datacenters: job.datacenters.clone(),
            node_pool: job.node_pool.clone(),
            r#type: job.r#type,
            priority: job.priority,
            // Nomad: `IsPeriodic` and `IsParameterized` (a dispatched child is not).
            periodic: job.periodic.is_some(),
            parameterized_job: job.parameterized_job.is_some() && !job.dispatched,
            stop: job.stop,
            status: job.status,
            status_description: job.status_description.clone(),
            job_summary: summary,
            create_index: job.create_index,
            modify_index: job.modify_index,
            job_modify_index: job.job_modify_index,
            submit_time: job.submit_time,
        }
    }
}

/// `POST /v1/jobs` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobRegisterRequest {
    pub job: Option<Job>,
    pub enforce_index: bool,
    pub job_modify_index: u64,
    pub policy_override: bool,
    pub preserve_counts: bool,
    pub eval_priority: i64,
}

/// `POST /v1/jobs` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobRegisterResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub warnings: String,
    pub index: u64,
    pub last_contact: u64,
    pub known_leader: bool,
}

/// `DELETE /v1/job/:id` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobDeregisterResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub index: u64,
}

/// `POST /v1/jobs/parse` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobsParseRequest {
    #[serde(rename = "JobHCL")]
    pub job_hcl: String,
    pub canonicalize: bool,
    /// Caravan keeps Nomad 1.x's `hclv1` switch (lower-case, as Nomad sent it).
    #[serde(rename = "hclv1")]
    pub hclv1: bool,
}

/// `POST /v1/job/:id/plan` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobPlanRequest {
    pub job: Option<Job>,
    pub diff: bool,
    pub policy_override: bool,
    /// Caravan's addition: explain every node's fate (`job plan -explain`).
    pub explain: bool,
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
    pub diff: Option<JobDiff>,
    pub next_periodic_launch: String,
    pub warnings: String,
    /// Nomad's `WriteMeta.Index`: the state index the plan was computed at.
    pub index: u64,
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
    pub node_id: NodeId,
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

/// `PUT /v1/validate/job` body (Nomad's `JobValidateRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobValidateRequest {
    /// The job to check.
    pub job: Option<Job>,
}

/// `PUT /v1/validate/job` answer (Nomad's `JobValidateResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobValidateResponse {
    /// Always true: driver configuration is checked with the rest of the job.
    pub driver_config_validated: bool,
    /// One line per broken rule; empty when the job is valid.
    pub validation_errors: Vec<String>,
    /// The errors as one go-multierror text (`1 error occurred:\n\t* ...\n\n`), or empty.
    pub error: String,
    /// Warnings as one text.
    pub warnings: String,
}

/// `POST /v1/job/:id/revert` body (Nomad's `JobRevertRequest`); the answer is a
/// [`JobRegisterResponse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobRevertRequest {
    /// The job to revert.
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    /// The version to register again.
    pub job_version: u64,
    /// Revert only if the current version is this one (`-check-index`-like guard).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforce_prior_version: Option<u64>,
}

/// `POST /v1/job/:id/dispatch` body (Nomad's `JobDispatchRequest`; Go encodes the
/// payload bytes as base64, and no input as `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobDispatchRequest {
    /// The parameterized job.
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    /// The input, base64-encoded.
    pub payload: Option<String>,
    /// `-meta` values (Go's nil map is `null`).
    pub meta: Option<BTreeMap<String, String>>,
    /// `-id-prefix-template`.
    pub id_prefix_template: String,
}

/// `POST /v1/job/:id/dispatch` answer (Nomad's `JobDispatchResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobDispatchResponse {
    /// The child job's ID.
    #[serde(rename = "DispatchedJobID")]
    pub dispatched_job_id: JobId,
    /// Its evaluation; empty when none was created (a periodic parameterized job).
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    /// Raft index of the evaluation.
    pub eval_create_index: u64,
    /// Raft index of the child job.
    pub job_create_index: u64,
    /// Raft index of the write.
    pub index: u64,
}

/// `POST /v1/job/:id/periodic/force` answer (Nomad's `PeriodicForceResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PeriodicForceResponse {
    /// The launched child's evaluation.
    #[serde(rename = "EvalID")]
    pub eval_id: EvalId,
    /// Raft index of the evaluation.
    pub eval_create_index: u64,
    /// Raft index of the write.
    pub index: u64,
}

/// `GET /v1/job/:id/versions[?diffs=true]` answer: versions newest first; `Diffs[i]`
/// is the change from `Versions[i+1]` to `Versions[i]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobVersionsResponse {
    /// Every tracked version, newest first.
    pub versions: Vec<Job>,
    /// One fewer than the versions when diffs were asked for, else absent (`null`).
    pub diffs: Option<Vec<Option<JobDiff>>>,
}

/// `POST /v1/job/:id/evaluate` body (Nomad's `JobEvaluateRequest`); the answer is a
/// [`JobRegisterResponse`]. An empty body asks for a plain evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JobEvaluateRequest {
    #[serde(rename = "JobID")]
    pub job_id: JobId,
    pub eval_options: EvalOptions,
}

/// `EvalOptions` of an evaluation asked for by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EvalOptions {
    /// Reschedule failed allocations now, whatever their reschedule policy says.
    pub force_reschedule: bool,
}
