//! Jobs, evaluations and allocations.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{
    AllocationListStub, JobDispatchRequest, JobListStub, JobPlanRequest, JobRegisterRequest,
    JobRevertRequest, JobValidateRequest,
};
use caravan_state::Snapshot;
use caravan_structs::json::from_slice_lenient;
use caravan_structs::{DEFAULT_NAMESPACE, Job, JobSummary};

use crate::blocking::{indexed, query_wait};
use crate::{AgentState, ApiError};

type Params = Query<HashMap<String, String>>;

fn namespace(params: &HashMap<String, String>) -> String {
    params
        .get("namespace")
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// Runs a read as a blocking query against the server's state.
async fn read<T>(
    state: &AgentState,
    params: &HashMap<String, String>,
    query: impl Fn(&Snapshot) -> (T, u64),
) -> Result<(T, u64), ApiError> {
    let wait = query_wait(params)?;
    let server = state.server()?;
    Ok(server
        .state()
        .blocking_query(wait.index, wait.wait, query)
        .await)
}

fn summary_or_empty(snapshot: &Snapshot, job: &Job) -> JobSummary {
    snapshot
        .job_summary(&job.namespace, &job.id)
        .map(|s| JobSummary::clone(&s))
        .unwrap_or_default()
}

/// `GET /v1/jobs`.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let ns = namespace(&params);
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let (stubs, index) = read(&state, &params, |snap| {
        let stubs: Vec<JobListStub> = snap
            .jobs_by_prefix(&ns, &prefix)
            .iter()
            .map(|job| JobListStub::new(job, summary_or_empty(snap, job)))
            .collect();
        let index = snap.table_index();
        (stubs, index.jobs.max(index.job_summary))
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// The job of a register request and, with `EnforceIndex`, the job modify index the
/// server must find (checked in the same write as the registration).
fn register_request(body: &[u8]) -> Result<(Job, Option<u64>), ApiError> {
    let request: JobRegisterRequest = from_slice_lenient(body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    let job = request
        .job
        .ok_or_else(|| ApiError::bad_request("Job must be specified"))?;
    Ok((
        job,
        request.enforce_index.then_some(request.job_modify_index),
    ))
}

/// `POST /v1/jobs`.
pub async fn register(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (job, enforce_index) = register_request(&body)?;
    let response = state.server()?.register_job_enforcing(job, enforce_index)?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id`: the same, with the ID in the path that must match the body's.
pub async fn register_one(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (job, enforce_index) = register_request(&body)?;
    if job.id != id {
        return Err(ApiError::bad_request("Job ID does not match name"));
    }
    let response = state.server()?.register_job_enforcing(job, enforce_index)?;
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
    Query(params): Params,
) -> Result<Response, ApiError> {
    let ns = namespace(&params);
    let (job, index) = read(&state, &params, |snap| {
        (
            snap.job(&ns, &id),
            snap.job(&ns, &id).map(|j| j.modify_index).unwrap_or(0),
        )
    })
    .await?;
    let job = job.ok_or_else(|| ApiError::not_found("job"))?;
    Ok(indexed(&*job, index))
}

/// `DELETE /v1/job/:id[?purge=true]`.
pub async fn deregister(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let purge = params.get("purge").is_some_and(|p| p == "true" || p == "1");
    let response = state
        .server()?
        .deregister_job(&namespace(&params), &id, purge)?;
    Ok(Json(response).into_response())
}

/// `GET /v1/job/:id/allocations[?all=true]`.
pub async fn allocations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let ns = namespace(&params);
    let all = params.get("all").is_some_and(|a| a == "true");
    let (stubs, index) = read(&state, &params, |snap| {
        let job_create_index = snap.job(&ns, &id).map(|j| j.create_index).unwrap_or(0);
        let allocs = snap.allocs_by_job(&ns, &id);
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
    Query(params): Params,
) -> Result<Response, ApiError> {
    let ns = namespace(&params);
    let (evals, index) = read(&state, &params, |snap| {
        let evals: Vec<_> = snap
            .evals_by_job(&ns, &id)
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
    Query(params): Params,
) -> Result<Response, ApiError> {
    let ns = namespace(&params);
    let (summary, index) = read(&state, &params, |snap| {
        let summary = snap.job_summary(&ns, &id);
        let index = summary.as_ref().map(|s| s.modify_index).unwrap_or(0);
        (summary, index)
    })
    .await?;
    let summary = summary.ok_or_else(|| ApiError::not_found("job"))?;
    Ok(indexed(&*summary, index))
}

/// `GET /v1/job/:id/versions`.
pub async fn versions(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let ns = namespace(&params);
    let (versions, index) = read(&state, &params, |snap| {
        let versions: Vec<Job> = snap
            .job_versions(&ns, &id)
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
    let diffs = params
        .get("diffs")
        .is_some_and(|d| d == "true" || d == "1")
        .then(|| {
            versions
                .windows(2)
                .map(|pair| caravan_structs::diff::job_diff(Some(&pair[1]), &pair[0]))
                .collect::<Vec<_>>()
        });
    Ok(indexed(
        serde_json::json!({ "Versions": versions, "Diffs": diffs }),
        index,
    ))
}

/// `PUT /v1/validate/job`: registration's checks, nothing stored.
pub async fn validate(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobValidateRequest = from_slice_lenient(&body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    let job = request
        .job
        .ok_or_else(|| ApiError::bad_request("Job must be specified"))?;
    Ok(Json(state.server()?.validate_job(job)).into_response())
}

/// `POST /v1/job/:id/revert`: registers a stored version again.
pub async fn revert(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobRevertRequest = from_slice_lenient(&body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    if request.job_id.is_empty() {
        return Err(ApiError::bad_request("JobID must be specified"));
    }
    if request.job_id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    let response = state.server()?.revert_job(
        &namespace(&params),
        &id,
        request.job_version,
        request.enforce_prior_version,
    )?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id/dispatch`: launches a child of a parameterized job.
pub async fn dispatch(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    use base64::Engine;
    let request: JobDispatchRequest = from_slice_lenient(&body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
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
    let response = state.server()?.dispatch_job(
        &namespace(&params),
        &id,
        &payload,
        request.meta.unwrap_or_default(),
        &request.id_prefix_template,
    )?;
    Ok(Json(response).into_response())
}

/// `POST /v1/job/:id/periodic/force`: launches a periodic job's child now.
pub async fn periodic_force(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let response = state.server()?.force_periodic(&namespace(&params), &id)?;
    Ok(Json(response).into_response())
}

/// `GET /v1/evaluations[?prefix=]`.
pub async fn eval_list(
    State(state): State<Arc<AgentState>>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let (evals, index) = read(&state, &params, |snap| {
        let evals: Vec<_> = snap
            .evals_by_prefix(&prefix)
            .iter()
            .map(|e| (**e).clone())
            .collect();
        (evals, snap.table_index().evals)
    })
    .await?;
    Ok(indexed(evals, index))
}

/// `GET /v1/evaluation/:id`.
pub async fn eval_get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let (eval, index) = read(&state, &params, |snap| {
        let eval = snap.eval(&id);
        let index = eval.as_ref().map(|e| e.modify_index).unwrap_or(0);
        (eval, index)
    })
    .await?;
    let eval = eval.ok_or_else(|| ApiError::not_found("eval"))?;
    Ok(indexed(&*eval, index))
}

/// `GET /v1/evaluation/:id/allocations`.
pub async fn eval_allocations(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let (stubs, index) = read(&state, &params, |snap| {
        let Some(eval) = snap.eval(&id) else {
            return (Vec::new(), 0);
        };
        let stubs: Vec<AllocationListStub> = snap
            .allocs_by_job(&eval.namespace, &eval.job_id)
            .iter()
            .filter(|a| a.eval_id == id)
            .map(|a| AllocationListStub::new(a))
            .collect();
        let index = stubs.iter().map(|a| a.modify_index).max().unwrap_or(0);
        (stubs, index)
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// `GET /v1/allocations[?prefix=]`.
pub async fn alloc_list(
    State(state): State<Arc<AgentState>>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let prefix = params.get("prefix").cloned().unwrap_or_default();
    let (stubs, index) = read(&state, &params, |snap| {
        let stubs: Vec<AllocationListStub> = snap
            .allocs_by_prefix(&prefix)
            .iter()
            .map(|a| AllocationListStub::new(a))
            .collect();
        (stubs, snap.table_index().allocs)
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// `GET /v1/allocation/:id`.
pub async fn alloc_get(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Response, ApiError> {
    let (alloc, index) = read(&state, &params, |snap| {
        let alloc = snap.alloc(&id);
        let index = alloc.as_ref().map(|a| a.modify_index).unwrap_or(0);
        (alloc, index)
    })
    .await?;
    let alloc = alloc.ok_or_else(|| ApiError::not_found("alloc"))?;
    Ok(indexed(&*alloc, index))
}

/// `POST /v1/job/:id/plan`: the scheduler's dry run.
pub async fn plan(
    State(state): State<Arc<AgentState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: JobPlanRequest = from_slice_lenient(&body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))?;
    let job = request
        .job
        .ok_or_else(|| ApiError::bad_request("Job must be specified"))?;
    if job.id != id {
        return Err(ApiError::bad_request("Job ID does not match"));
    }
    let mut response = state.server()?.plan_job(job, request.explain)?;
    if !request.diff {
        response.diff = None;
    }
    Ok(Json(response).into_response())
}

/// The server routers' fallback: `/v1/job/<id with slashes>[/<action>]` for job IDs a
/// client did not escape (children: `report/dispatch-1700000000-0a1b2c3d`), as Nomad's
/// router reads the action from the end of the path; anything else is `Invalid URL`.
pub async fn by_path(
    State(state): State<Arc<AgentState>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, ApiError> {
    use axum::http::{Method, StatusCode};
    const ACTIONS: &[&str] = &[
        "/periodic/force",
        "/allocations",
        "/evaluations",
        "/summary",
        "/versions",
        "/plan",
        "/revert",
        "/dispatch",
    ];
    let Some(path) = uri
        .path()
        .strip_prefix("/v1/job/")
        .filter(|p| p.contains('/') && !p.ends_with('/'))
    else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Invalid URL"));
    };
    let (id, action) = ACTIONS
        .iter()
        .find_map(|a| path.strip_suffix(a).map(|id| (id, *a)))
        .unwrap_or((path, ""));
    let (id, state) = (Path(id.to_string()), State(state));
    let query = Query(params);
    let is_write = method == Method::POST || method == Method::PUT;
    match (action, method == Method::GET, is_write) {
        ("", true, _) => get(state, id, query).await,
        ("", _, true) => register_one(state, id, body).await,
        ("", _, _) if method == Method::DELETE => deregister(state, id, query).await,
        ("/allocations", true, _) => allocations(state, id, query).await,
        ("/evaluations", true, _) => evaluations(state, id, query).await,
        ("/summary", true, _) => summary(state, id, query).await,
        ("/versions", true, _) => versions(state, id, query).await,
        ("/plan", _, true) => plan(state, id, body).await,
        ("/revert", _, true) => revert(state, id, query, body).await,
        ("/dispatch", _, true) => dispatch(state, id, query, body).await,
        ("/periodic/force", _, true) => periodic_force(state, id, query).await,
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {}", uri.path()),
        )),
    }
}
