//! Jobs: `/v1/jobs`, `/v1/job/{id}` and its actions, `/v1/validate/job`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{
    AllocationListStub, JobDispatchRequest, JobEvaluateRequest, JobListStub, JobPlanRequest,
    JobRegisterRequest, JobRevertRequest, JobValidateRequest, JobVersionsResponse,
};
use caravan_state::Snapshot;
use caravan_structs::{Job, JobSummary};

use crate::blocking::{indexed, read, read_one};
use crate::context::decode_body;
use crate::{AgentState, ApiError, RequestContext};

fn summary_or_empty(snapshot: &Snapshot, job: &Job) -> JobSummary {
    snapshot
        .job_summary(&job.namespace, &job.id)
        .map(|s| JobSummary::clone(&s))
        .unwrap_or_default()
}

/// `GET /v1/jobs`.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let ns = &context.namespace;
    let prefix = &context.prefix;
    let (stubs, index) = read(&state, &context, |snap| {
        let stubs: Vec<JobListStub> = snap
            .jobs_by_prefix(ns, prefix)
            .iter()
            .filter(|job| context.may(&job.namespace, "list-jobs"))
            .map(|job| JobListStub::new(job, summary_or_empty(snap, job)))
            .collect();
        let index = snap.table_index();
        (stubs, index.jobs.max(index.job_summary))
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// The job of a register request, with `EnforceIndex` the job modify index the server
/// must find (checked in the same write as the registration), and `PreserveCounts`.
fn register_request(body: &[u8]) -> Result<(Job, Option<u64>, bool), ApiError> {
    let request: JobRegisterRequest = decode_body(body)?;
    let job = request
        .job
        .ok_or_else(|| ApiError::bad_request("Job must be specified"))?;
    Ok((
        job,
        request.enforce_index.then_some(request.job_modify_index),
        request.preserve_counts,
    ))
}

/// A submitted job's namespace: its own, else the request's (Nomad's `jobUpdate`);
/// the caller must be allowed `capability` there.
fn place_in_namespace(
    job: &mut Job,
    context: &RequestContext,
    capability: &str,
) -> Result<(), ApiError> {
    if job.namespace.is_empty() && context.namespace != "*" {
        job.namespace = context.namespace.clone();
    }
    let namespace = if job.namespace.is_empty() {
        caravan_structs::DEFAULT_NAMESPACE
    } else {
        job.namespace.as_str()
    };
    context.require(namespace, capability)
}

/// Nomad's registration check of the job's host volumes: the caller's `host_volume`
/// rules must let it mount each one as the group asks (read-only or read-write).
fn require_host_volume_mounts(job: &Job, context: &RequestContext) -> Result<(), ApiError> {
    let Some(caller) = &context.caller else {
        return Ok(());
    };
    let volumes = job.task_groups.iter().flat_map(|g| g.volumes.values());
    for volume in volumes.filter(|v| v.r#type == caravan_structs::VOLUME_TYPE_HOST) {
        if !caller
            .acl
            .allow_host_volume_mount(&volume.source, volume.read_only)
        {
            return Err(crate::acl::permission_denied());
        }
    }
    Ok(())
}

/// `POST /v1/jobs`.
pub async fn register(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (mut job, enforce_index, preserve_counts) = register_request(&body)?;
    place_in_namespace(&mut job, &context, "submit-job")?;
    require_host_volume_mounts(&job, &context)?;
    let response = state
        .server()?
        .register_submitted_job(job, enforce_index, preserve_counts)
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id`: the same, with the ID in the path that must match the body's.
pub async fn register_one(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (mut job, enforce_index, preserve_counts) = register_request(&body)?;
    place_in_namespace(&mut job, &context, "submit-job")?;
    require_host_volume_mounts(&job, &context)?;
    if job.id != id {
        return Err(ApiError::bad_request("Job ID does not match name"));
    }
    let response = state
        .server()?
        .register_submitted_job(job, enforce_index, preserve_counts)
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/jobs/parse`: HCL in, job JSON out.
pub async fn parse(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let job = crate::parse::parse(state.job_parser.as_ref(), body).await?;
    Ok(Json(job).into_response())
}

/// `GET /v1/job/:id`.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let ns = &context.namespace;
    let (job, index) = read_one(&state, &context, "job", |snap| snap.job(ns, &id)).await?;
    Ok(indexed(&*job, index))
}

/// `DELETE /v1/job/:id[?purge=true]`.
pub async fn deregister(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let purge = context.flag("purge")?;
    let response = state
        .server()?
        .deregister_job(&context.namespace, &id, purge)
        .await?;
    Ok(Json(response).into_response())
}

/// `GET /v1/job/:id/allocations[?all=true]`.
pub async fn allocations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let ns = &context.namespace;
    let all = context.flag("all")?;
    let (stubs, index) = read(&state, &context, |snap| {
        let job_create_index = snap.job(ns, &id).map(|j| j.create_index).unwrap_or(0);
        let allocs = snap.allocs_by_job(ns, &id);
        let index = allocs.iter().map(|a| a.modify_index).max().unwrap_or(0);
        // Nomad: without `all`, allocations of an earlier job with the same ID are left out.
        let stubs: Vec<AllocationListStub> = allocs
            .iter()
            .filter(|a| {
                all || a
                    .job
                    .as_ref()
                    .is_none_or(|j| j.create_index >= job_create_index)
            })
            .map(|a| AllocationListStub::new(a))
            .collect();
        (stubs, index)
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// `GET /v1/job/:id/evaluations`.
pub async fn evaluations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let ns = &context.namespace;
    let (evals, index) = read(&state, &context, |snap| {
        let evals: Vec<_> = snap
            .evals_by_job(ns, &id)
            .iter()
            .map(|e| (**e).clone())
            .collect();
        let index = evals.iter().map(|e| e.modify_index).max().unwrap_or(0);
        (evals, index)
    })
    .await?;
    Ok(indexed(evals, index))
}

/// `GET /v1/job/:id/summary`.
pub async fn summary(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let ns = &context.namespace;
    let (summary, index) =
        read_one(&state, &context, "job", |snap| snap.job_summary(ns, &id)).await?;
    Ok(indexed(&*summary, index))
}

/// `GET /v1/job/:id/versions`.
pub async fn versions(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let ns = &context.namespace;
    let (versions, index) = read(&state, &context, |snap| {
        let versions: Vec<Job> = snap
            .job_versions(ns, &id)
            .iter()
            .map(|j| (**j).clone())
            .collect();
        let index = versions.iter().map(|j| j.modify_index).max().unwrap_or(0);
        (versions, index)
    })
    .await?;
    if versions.is_empty() {
        return Err(ApiError::not_found("job"));
    }
    // Nomad: with `diffs`, Diffs[i] is what changed from Versions[i+1] to Versions[i].
    let diffs = context.flag("diffs")?.then(|| {
        versions
            .windows(2)
            .map(|pair| Some(caravan_structs::diff::job_diff(Some(&pair[1]), &pair[0])))
            .collect::<Vec<_>>()
    });
    Ok(indexed(JobVersionsResponse { versions, diffs }, index))
}

/// `PUT /v1/validate/job`: registration's checks, nothing stored.
pub async fn validate(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobValidateRequest = decode_body(&body)?;
    let job = request
        .job
        .ok_or_else(|| ApiError::bad_request("Job must be specified"))?;
    Ok(Json(state.server()?.validate_job(job)).into_response())
}

/// `POST /v1/job/:id/revert`: registers a stored version again.
pub async fn revert(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobRevertRequest = decode_body(&body)?;
    if request.job_id.is_empty() {
        return Err(ApiError::bad_request("JobID must be specified"));
    }
    if request.job_id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    let response = state
        .server()?
        .revert_job(
            &context.namespace,
            &id,
            request.job_version,
            request.enforce_prior_version,
        )
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id/evaluate`: asks the scheduler to look at the job again. The body
/// (`{"JobID", "EvalOptions": {"ForceReschedule"}}`) may be empty, as Nomad takes it.
pub async fn evaluate(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobEvaluateRequest = crate::alloc_actions::optional_body(&body)?;
    if !request.job_id.is_empty() && request.job_id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    let response = state
        .server()?
        .evaluate_job(
            &context.namespace,
            &id,
            request.eval_options.force_reschedule,
        )
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id/dispatch`: launches a child of a parameterized job.
pub async fn dispatch(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    use base64::Engine;
    let request: JobDispatchRequest = decode_body(&body)?;
    if !request.job_id.is_empty() && request.job_id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    let payload = match request.payload.as_deref().unwrap_or("") {
        "" => Vec::new(),
        text => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "Failed to decode request body: Payload must be base64 encoded: {e}"
                ))
            })?,
    };
    let response = state
        .server()?
        .dispatch_job(
            &context.namespace,
            &id,
            &payload,
            request.meta.unwrap_or_default(),
            &request.id_prefix_template,
        )
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id/periodic/force`: launches a periodic job's child now.
pub async fn periodic_force(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let response = state
        .server()?
        .force_periodic(&context.namespace, &id)
        .await?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id/plan`: the scheduler's dry run.
pub async fn plan(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    context: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobPlanRequest = decode_body(&body)?;
    let mut job = request
        .job
        .ok_or_else(|| ApiError::bad_request("Job must be specified"))?;
    place_in_namespace(&mut job, &context, "submit-job")?;
    if job.id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    let mut response = state.server()?.plan_job(job, request.explain).await?;
    if !request.diff {
        response.diff = None;
    }
    Ok(Json(response).into_response())
}
