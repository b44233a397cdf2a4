//! The calls a client agent makes to its servers, over HTTP on the server's RPC port.
//! Every call but registration carries the node's secret.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use caravan_structs::json::from_slice_lenient;
use caravan_structs::{AllocClientUpdate, Node};
use serde::{Deserialize, Serialize};

use crate::blocking::{indexed, query_wait};
use crate::{AgentState, ApiError};

/// The header a client's secret travels in.
pub const NODE_SECRET_HEADER: &str = "x-caravan-node-secret";

/// Answer to registration and heartbeats.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeartbeatResponse {
    /// Nanoseconds.
    #[serde(rename = "HeartbeatTTL")]
    pub heartbeat_ttl: i64,
    pub index: u64,
}

/// A heartbeat.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HeartbeatRequest {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    #[serde(rename = "SecretID")]
    pub secret_id: String,
}

/// A batch of allocation status updates.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocUpdateRequest {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub allocs: Vec<AllocClientUpdate>,
}

pub(crate) fn routes() -> Router<Arc<AgentState>> {
    Router::new()
        .route("/v1/internal/node/register", post(register))
        .route("/v1/internal/node/heartbeat", post(heartbeat))
        .route("/v1/internal/node/{id}/allocations", get(allocations))
        .route("/v1/internal/allocations/update", post(update))
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    from_slice_lenient(body)
        .map_err(|e| ApiError::bad_request(format!("Failed to decode request body: {e}")))
}

fn secret(headers: &HeaderMap) -> String {
    headers
        .get(NODE_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn register(State(state): State<Arc<AgentState>>, body: Bytes) -> Result<Response, ApiError> {
    let node: Node = decode(&body)?;
    if node.id.is_empty() || node.secret_id.is_empty() {
        return Err(ApiError::bad_request("node ID and secret ID are required"));
    }
    let registration = state.server()?.register_node(node)?;
    Ok(Json(HeartbeatResponse {
        heartbeat_ttl: registration.heartbeat_ttl.as_nanos() as i64,
        index: registration.index,
    })
    .into_response())
}

async fn heartbeat(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: HeartbeatRequest = decode(&body)?;
    let ttl = state
        .server()?
        .heartbeat(&request.node_id, &request.secret_id)?;
    Ok(Json(HeartbeatResponse {
        heartbeat_ttl: ttl.as_nanos() as i64,
        index: 0,
    })
    .into_response())
}

async fn allocations(
    State(state): State<Arc<AgentState>>,
    Path(node_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wait = query_wait(&params)?;
    let (allocs, index) = state
        .server()?
        .node_allocations(&node_id, &secret(&headers), wait.index, wait.wait)
        .await?;
    Ok(indexed(allocs, index))
}

async fn update(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AllocUpdateRequest = decode(&body)?;
    let index =
        state
            .server()?
            .update_allocations(&request.node_id, &secret(&headers), request.allocs)?;
    Ok(Json(serde_json::json!({ "Index": index })).into_response())
}
