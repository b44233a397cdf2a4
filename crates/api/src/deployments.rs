//! Deployments: `/v1/deployments`, `/v1/deployment/:id` and its allocations, the
//! operator's actions on one (`promote`, `pause`, `fail`, `allocation-health`,
//! `unblock`), and a job's deployments and stable versions (`/v1/job/:id/deployments`,
//! `/deployment`, `/stable`).
//!
//! A deployment is seen only in its own namespace (`namespace=*` lists all the caller
//! may read), as Nomad scopes them.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{
    AllocationListStub, DeploymentAllocHealthRequest, DeploymentPauseRequest,
    DeploymentPromoteRequest, JobStabilityRequest, JobStabilityResponse,
};
use caravan_structs::Deployment;

use crate::blocking::{indexed, read};
use crate::context::decode_body;
use crate::{AgentState, ApiError, RequestContext};

/// Whether the caller sees `found` in the request's namespace.
fn in_namespace(context: &RequestContext, found: &Deployment) -> bool {
    context.namespace == "*" || context.namespace == found.namespace
}

/// `GET /v1/deployments[?prefix=]`, oldest first.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (mut rows, index) = read(&state, &context, |snap| {
        let rows: Vec<Deployment> = snap
            .deployments_by_prefix(&context.prefix)
            .iter()
            .filter(|d| context.lists(&d.namespace, "read-job"))
            .map(|d| Deployment::clone(d))
            .collect();
        (rows, snap.deployments_index())
    })
    .await?;
    rows.sort_by_key(|d| d.create_index);
    Ok(indexed(rows, index))
}

/// `GET /v1/deployment/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (found, index) = read(&state, &context, |snap| {
        let found = snap.deployment(&id).filter(|d| in_namespace(&context, d));
        let index = found.as_ref().map_or(0, |d| d.modify_index);
        (found, index)
    })
    .await?;
    let found = found.ok_or_else(|| ApiError::not_found("deployment"))?;
    Ok(indexed(&*found, index))
}

/// `GET /v1/deployment/allocations/:id`: the allocations placed by the deployment.
pub async fn allocations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (stubs, index) = read(&state, &context, |snap| {
        let Some(found) = snap.deployment(&id).filter(|d| in_namespace(&context, d)) else {
            return (None, 0);
        };
        let stubs: Vec<AllocationListStub> = snap
            .allocs_by_job(&found.namespace, &found.job_id)
            .iter()
            .filter(|a| a.deployment_id == found.id)
            .map(|a| AllocationListStub::new(a))
            .collect();
        let index = stubs
            .iter()
            .map(|a| a.modify_index)
            .max()
            .unwrap_or(0)
            .max(found.modify_index);
        (Some(stubs), index)
    })
    .await?;
    let stubs = stubs.ok_or_else(|| ApiError::not_found("deployment"))?;
    Ok(indexed(stubs, index))
}

/// The deployment an action names, in the caller's namespace.
fn target(state: &AgentState, context: &RequestContext, id: &str) -> Result<(), ApiError> {
    let server = state.server()?;
    match server.snapshot().deployment(id) {
        Some(found) if in_namespace(context, &found) => Ok(()),
        _ => Err(ApiError::not_found("deployment")),
    }
}

/// Nomad's check that the body names the deployment of the path, when it names one.
fn same_deployment(path: &str, body: &str) -> Result<(), ApiError> {
    if !body.is_empty() && body != path {
        return Err(ApiError::bad_request("Deployment ID does not match"));
    }
    Ok(())
}

/// `POST /v1/deployment/promote/:id` with `{"All": true}` or `{"Groups": [...]}`.
pub async fn promote(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DeploymentPromoteRequest = decode_body(&body)?;
    same_deployment(&id, &request.deployment_id)?;
    target(&state, &context, &id)?;
    let response = state
        .server()?
        .promote_deployment(&id, request.all, request.groups.unwrap_or_default())
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/deployment/pause/:id` with `{"Pause": true|false}`.
pub async fn pause(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DeploymentPauseRequest = decode_body(&body)?;
    same_deployment(&id, &request.deployment_id)?;
    target(&state, &context, &id)?;
    let response = state.server()?.pause_deployment(&id, request.pause).await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/deployment/fail/:id`.
pub async fn fail(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    target(&state, &context, &id)?;
    let response = state.server()?.fail_deployment(&id).await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/deployment/unblock/:id`.
pub async fn unblock(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    target(&state, &context, &id)?;
    let response = state.server()?.unblock_deployment(&id).await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/deployment/allocation-health/:id` with the healthy and unhealthy IDs.
pub async fn allocation_health(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DeploymentAllocHealthRequest = decode_body(&body)?;
    same_deployment(&id, &request.deployment_id)?;
    target(&state, &context, &id)?;
    let response = state
        .server()?
        .set_deployment_alloc_health(
            &id,
            request.healthy_allocation_ids.unwrap_or_default(),
            request.unhealthy_allocation_ids.unwrap_or_default(),
        )
        .await?;
    Ok(Json(response).into_response())
}

/// `GET /v1/job/:id/deployments[?all=true]`, newest first. Without `all`, only those of
/// the job as registered now (not of an earlier job of the same ID that was purged).
pub async fn job_deployments(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let all = context.flag("all")?;
    let namespace = context.namespace.clone();
    let (rows, index) = read(&state, &context, |snap| {
        let create_index = snap.job(&namespace, &id).map(|j| j.create_index);
        let rows: Vec<Deployment> = snap
            .deployments_by_job(&namespace, &id)
            .iter()
            .filter(|d| all || Some(d.job_create_index) == create_index)
            .map(|d| Deployment::clone(d))
            .collect();
        let index = rows.iter().map(|d| d.modify_index).max().unwrap_or(0);
        (rows, index)
    })
    .await?;
    Ok(indexed(rows, index))
}

/// `GET /v1/job/:id/deployment`: the newest, or `null`.
pub async fn job_latest_deployment(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let namespace = context.namespace.clone();
    let (found, index) = read(&state, &context, |snap| {
        let found = snap.latest_deployment(&namespace, &id);
        let index = found
            .as_ref()
            .map_or(snap.deployments_index(), |d| d.modify_index);
        (found, index)
    })
    .await?;
    Ok(indexed(found.as_deref(), index))
}

/// `POST /v1/job/:id/stable` with `{"JobVersion": N, "Stable": true}`.
pub async fn job_stable(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobStabilityRequest = decode_body(&body)?;
    if !request.job_id.is_empty() && request.job_id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    let index = state
        .server()?
        .set_job_stability(&context.namespace, &id, request.job_version, request.stable)
        .await?;
    Ok(Json(JobStabilityResponse { index }).into_response())
}
