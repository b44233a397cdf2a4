//! Nomad's service catalogue (`provider = "nomad"`): `GET /v1/services`,
//! `GET /v1/service/:name`, `DELETE /v1/service/:name/:id`, `GET /v1/job/:id/services`,
//! and an allocation's check
//! results, `GET /v1/client/allocation/:id/checks`, answered by the client that runs it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use caravan_structs::ServiceRegistration;

use crate::alloc_actions::forward_to_runner;
use crate::blocking::{indexed, read};
use crate::{AgentState, ApiError, RequestContext};

/// `GET /v1/services`: each namespace's services with their tags; `namespace=*` lists
/// the namespaces the caller may read.
pub async fn list(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let (stubs, index) = read(&state, &context, |snapshot| {
        let stubs: Vec<_> = snapshot
            .service_list(&context.namespace)
            .into_iter()
            .filter(|stub| context.may(&stub.namespace, "read-job"))
            .collect();
        (stubs, snapshot.table_index().services)
    })
    .await?;
    Ok(indexed(stubs, index))
}

/// `GET /v1/service/:name`: the service's registrations in the request's namespace
/// (empty for a service nobody registered), a blocking query on the catalogue.
/// `choose=<count>|<key>` picks `count` of them by rendezvous hashing on `key`, as
/// Nomad's load-balancing helpers do.
pub async fn get(
    State(state): State<Arc<AgentState>>,
    Path(name): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let choose = context.param("choose").map(parse_choose).transpose()?;
    let (services, index) = read(&state, &context, |snapshot| {
        let services: Vec<ServiceRegistration> = snapshot
            .service_registrations(&context.namespace, &name)
            .iter()
            .map(|s| ServiceRegistration::clone(s))
            .collect();
        (services, snapshot.table_index().services)
    })
    .await?;
    let services = match choose {
        Some((count, key)) => chosen(services, count, &key),
        None => services,
    };
    Ok(indexed(services, index))
}

/// `GET /v1/job/:id/services`: the registrations of a job's allocations.
pub async fn job_services(
    State(state): State<Arc<AgentState>>,
    Path(job_id): Path<String>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let namespace = &context.namespace;
    let (services, index) = read(&state, &context, |snapshot| {
        let services: Option<Vec<ServiceRegistration>> =
            snapshot.job(namespace, job_id.as_str()).map(|_| {
                snapshot
                    .service_registrations_by_job(namespace, &job_id)
                    .iter()
                    .map(|s| ServiceRegistration::clone(s))
                    .collect()
            });
        (services, snapshot.table_index().services)
    })
    .await?;
    let services = services
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::NOT_FOUND, "job not found"))?;
    Ok(indexed(services, index))
}

/// `choose=<count>|<key>`.
fn parse_choose(value: &str) -> Result<(usize, String), ApiError> {
    let invalid = || {
        ApiError::bad_request(format!(
            "invalid choose value {value:?}: use <count>|<key>, such as 2|my-alloc"
        ))
    };
    let (count, key) = value.split_once('|').ok_or_else(invalid)?;
    let count = count.parse().map_err(|_| invalid())?;
    Ok((count, key.to_string()))
}

/// Rendezvous hashing: each registration ranked by a hash of the key and its ID, the
/// first `count` kept, so a key keeps its picks while others come and go.
fn chosen(
    mut services: Vec<ServiceRegistration>,
    count: usize,
    key: &str,
) -> Vec<ServiceRegistration> {
    use sha2::Digest;
    services.sort_by_cached_key(|s| {
        let mut hasher = sha2::Sha256::new();
        hasher.update(key.as_bytes());
        hasher.update(s.id.as_bytes());
        hasher.finalize().to_vec()
    });
    services.truncate(count);
    services
}

/// `DELETE /v1/service/:name/:id`.
pub async fn delete(
    State(state): State<Arc<AgentState>>,
    Path((name, id)): Path<(String, String)>,
    context: RequestContext,
) -> Result<Response, ApiError> {
    let index = state
        .server()?
        .delete_service(&context.namespace, &name, &id)
        .await?;
    Ok(indexed(serde_json::Value::Null, index))
}

/// `GET /v1/client/allocation/:id/checks`: the latest result of each check, by check
/// ID, from this agent's client or the client that runs the allocation.
pub async fn alloc_checks(
    State(state): State<Arc<AgentState>>,
    Path(alloc_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(client) = &state.client
        && let Some(id) = state.local_alloc_id(&alloc_id)
        && let Some(results) = client.allocation_checks(&id)
    {
        return Ok(axum::Json(results).into_response());
    }
    forward_to_runner(&state, &alloc_id, method, &uri, &headers, Bytes::new()).await
}
