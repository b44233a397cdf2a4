//! Scaling: `/v1/job/:id/scale` (a job's scale status, `job scale`) and
//! `/v1/scaling/policies`, `/v1/scaling/policy/:id`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{
    JobScaleRequest, JobScaleStatus, ScalingPolicyListStub, TaskGroupScaleStatus,
};
use caravan_state::Snapshot;
use caravan_structs::{Job, ScalingPolicy};

use crate::acl::LIST_SCALING_POLICIES;
use crate::blocking::{indexed, read};
use crate::context::decode_body;
use crate::{AgentState, ApiError, RequestContext};

/// Nomad's `JobScaleStatus` of a job: placed, healthy and unhealthy counts come from
/// the job's latest deployment (0 without one).
fn scale_status(snapshot: &Snapshot, job: &Job) -> JobScaleStatus {
    let summary = snapshot.job_summary(&job.namespace, &job.id);
    let deployment = snapshot.latest_deployment(&job.namespace, job.id.as_str());
    let events = snapshot.scaling_events(&job.namespace, job.id.as_str());
    let task_groups = job
        .task_groups
        .iter()
        .map(|group| {
            let rollout = deployment
                .as_ref()
                .and_then(|d| d.task_groups.get(&group.name));
            let status = TaskGroupScaleStatus {
                desired: group.count,
                placed: rollout.map_or(0, |r| r.placed_allocs),
                healthy: rollout.map_or(0, |r| r.healthy_allocs),
                unhealthy: rollout.map_or(0, |r| r.unhealthy_allocs),
                running: summary
                    .as_ref()
                    .and_then(|s| s.summary.get(&group.name))
                    .map_or(0, |g| g.running),
                events: events
                    .as_ref()
                    .and_then(|e| e.scaling_events.get(&group.name))
                    .cloned()
                    .unwrap_or_default(),
            };
            (group.name.clone(), status)
        })
        .collect();
    JobScaleStatus {
        job_id: job.id.to_string(),
        namespace: job.namespace.clone(),
        job_create_index: job.create_index,
        job_modify_index: job.modify_index,
        job_stopped: job.stop,
        task_groups,
    }
}

/// `GET /v1/job/:id/scale`.
pub async fn status(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let ns = &context.namespace;
    let (status, index) = read(&state, &context, |snap| match snap.job(ns, &id) {
        Some(job) => {
            let events_index = snap.scaling_events(ns, &id).map_or(0, |e| e.modify_index);
            (
                Some(scale_status(snap, &job)),
                job.modify_index.max(events_index),
            )
        }
        None => (None, snap.table_index().jobs),
    })
    .await?;
    let status = status.ok_or_else(|| ApiError::not_found("job"))?;
    Ok(indexed(status, index))
}

/// `POST /v1/job/:id/scale`.
pub async fn scale(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobScaleRequest = decode_body(&body)?;
    let response = state
        .server()?
        .scale_job(&context.namespace, &id, request)
        .await?;
    Ok(Json(response).into_response())
}

/// Whether the caller may see a policy of `namespace` in a list (Nomad:
/// `list-scaling-policies`, or both `list-jobs` and `read-job`).
fn lists_policies_of(context: &RequestContext, namespace: &str) -> bool {
    LIST_SCALING_POLICIES.iter().any(|capabilities| {
        capabilities
            .iter()
            .all(|capability| context.lists(namespace, capability))
    })
}

/// `GET /v1/scaling/policies[?job=][&type=][&prefix=]`.
pub async fn list_policies(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let job = context.param("job").unwrap_or("");
    let policy_type = context.param("type").unwrap_or("");
    let (stubs, index) = read(&state, &context, |snap| {
        let stubs: Vec<ScalingPolicyListStub> = snap
            .scaling_policies_by_prefix(&context.prefix)
            .iter()
            .filter(|p| job.is_empty() || p.target_job() == job)
            .filter(|p| lists_policies_of(&context, &p.namespace))
            // Nomad: `type` matches as a prefix.
            .filter(|p| p.r#type.starts_with(policy_type))
            .map(|p| ScalingPolicyListStub::new(p))
            .collect();
        (stubs, snap.scaling_index().policies)
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// `GET /v1/scaling/policy/:id`.
pub async fn get_policy(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (policy, index): (Option<Arc<ScalingPolicy>>, u64) = read(&state, &context, |snap| {
        let policy = snap.scaling_policy(&id);
        let index = policy
            .as_ref()
            .map_or(snap.scaling_index().policies, |p| p.modify_index);
        (policy, index)
    })
    .await?;
    // Nomad looks a policy up by ID in the request's namespace.
    let policy = policy
        .filter(|p| p.namespace == context.namespace)
        .ok_or_else(|| ApiError::not_found("policy"))?;
    Ok(indexed(&*policy, index))
}
