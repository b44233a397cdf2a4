//! `POST /v1/client/allocation/:id/restart`: what a user does to a running allocation,
//! answered by the client that runs it (a server forwards the call there, as it does
//! the `fs` calls).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use caravan_api_types::AllocationRestartRequest as RestartBody;
use caravan_client::alloc_runner::RestartError;
use serde_json::json;

use crate::proxy::forward;
use crate::{AgentState, ApiError};

impl From<RestartError> for ApiError {
    fn from(error: RestartError) -> ApiError {
        let status = match error {
            RestartError::UnknownAllocation(_) => StatusCode::NOT_FOUND,
            RestartError::UnknownTask(_) | RestartError::TaskNameWithAllTasks => {
                StatusCode::BAD_REQUEST
            }
            // Nomad answers these with a plain (500) error.
            RestartError::TaskNotRunning | RestartError::ShouldNotRun => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, error.to_string())
    }
}

/// An action's JSON body, whose fields are all optional: an empty body, or `null` (which
/// Go decodes into a struct as nothing), is the default request.
pub(crate) fn optional_body<T: Default + serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, ApiError> {
    let body = body.trim_ascii();
    if body.is_empty() || body == b"null" {
        return Ok(T::default());
    }
    crate::context::decode_body(body)
}

pub(crate) fn unknown_allocation(alloc_id: &str) -> ApiError {
    RestartError::UnknownAllocation(alloc_id.to_string()).into()
}

/// `POST|PUT /v1/client/allocation/:id/restart` with `{"TaskName": "", "AllTasks": false}`:
/// restarts the named task, or every running task, or (`AllTasks`) every task, in place.
/// Answers `{}` once the tasks have been killed; they start again right after.
pub async fn restart(
    State(state): State<Arc<AgentState>>,
    Path(alloc_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: RestartBody = optional_body(&body)?;
    if let Some(client) = &state.client
        && let Some(id) = state.local_alloc_id(&alloc_id)
    {
        client
            .restart_allocation(&id, &request.task_name, request.all_tasks)
            .await?;
        return Ok(Json(json!({})).into_response());
    }
    forward_to_runner(&state, &alloc_id, method, &uri, &headers, body).await
}

/// A client call about an allocation this agent does not run, passed to the client
/// that runs it ([`remote_client`]).
pub(crate) async fn forward_to_runner(
    state: &AgentState,
    alloc_id: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let base = remote_client(state, alloc_id)?;
    forward(state.clients_http(), &base, method, uri, headers, body).await
}

/// The HTTP base URL of the client that runs `alloc_id`, when this agent does not run it
/// but its server knows who does. A client-only agent answers only for its own
/// allocations (forwarding to a server that would forward back to it could loop), as
/// its stats endpoint does.
pub(crate) fn remote_client(state: &AgentState, alloc_id: &str) -> Result<String, ApiError> {
    let server = state
        .server
        .as_ref()
        .ok_or_else(|| unknown_allocation(alloc_id))?;
    let snapshot = server.snapshot();
    let alloc = match snapshot.alloc(alloc_id) {
        Some(alloc) => alloc,
        None => match snapshot.allocs_by_prefix(alloc_id).as_slice() {
            [alloc] => alloc.clone(),
            _ => return Err(unknown_allocation(alloc_id)),
        },
    };
    let node = snapshot
        .node(&alloc.node_id)
        .filter(|node| !node.http_addr.is_empty())
        .ok_or_else(|| unknown_allocation(alloc_id))?;
    if state
        .client
        .as_ref()
        .is_some_and(|client| client.node().id == node.id)
    {
        // This agent's own client no longer runs it.
        return Err(unknown_allocation(alloc_id));
    }
    Ok(state.tls.http_url(&node.http_addr))
}
