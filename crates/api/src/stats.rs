//! `GET /v1/client/allocation/:id/stats`: an allocation's resource usage, in Nomad's
//! `AllocResourceUsage` shape, answered by the client that runs it.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::proxy::forward;
use crate::{AgentState, ApiError};

/// The usage of the allocation's running tasks, measured here if this agent's client
/// runs it, else forwarded to the client that does (found through the server's state).
pub async fn alloc_stats(
    State(state): State<Arc<AgentState>>,
    Path(alloc_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(client) = &state.client
        && let Some(id) = state.local_alloc_id(&alloc_id)
        && let Some(usage) = client.allocation_stats(&id).await
    {
        return Ok(Json(usage).into_response());
    }
    let server = state
        .server
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Unknown allocation"))?;
    let snapshot = server.snapshot();
    let alloc = snapshot
        .alloc(&alloc_id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Unknown allocation"))?;
    let node = snapshot
        .node(&alloc.node_id)
        .filter(|node| !node.http_addr.is_empty())
        // This agent's own client no longer runs it: forwarding to itself would loop.
        .filter(|node| {
            state
                .client
                .as_ref()
                .is_none_or(|client| client.node().id != node.id)
        })
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Unknown allocation"))?;
    forward(
        state.clients_http(),
        &state.tls.http_url(&node.http_addr),
        method,
        &uri,
        &headers,
        Bytes::new(),
    )
    .await
}
