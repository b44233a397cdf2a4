//! The client routes about a node rather than an allocation: `GET /v1/client/stats`
//! (the host's usage), `/v1/client/gc` (collect every finished allocation) and
//! `/v1/client/allocation/:id/gc` (collect one). Each takes `?node_id=`: this agent's
//! own client answers for itself, a server passes the call to the node's agent.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use caravan_api_types::{HostCpuStats, HostDiskStats, HostMemoryStats, HostStatsResponse};
use caravan_client::Client;
use caravan_client::host_stats::{HostSampler, HostStats};

use crate::alloc_actions::{forward_to_runner, unknown_allocation};
use crate::proxy::forward;
use crate::{AgentState, ApiError, RequestContext};

/// Nomad's answer when the agent asked has no client and no node was named.
fn client_not_running() -> ApiError {
    ApiError::bad_request("node is not running a Nomad Client")
}

fn unknown_node(node_id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("Unknown node {node_id}"))
}

/// Who answers a call about `?node_id=`.
enum NodeTarget<'a> {
    /// This agent's own client.
    Local(&'a Arc<Client>),
    /// The HTTP base URL of the agent that runs the node.
    Remote(String),
}

/// This agent's client when `node_id` is empty or names it (an ID or a prefix of it);
/// else, on a server, the agent of the node its state knows by that ID or prefix. A
/// client-only agent answers for its own node only: passing the call to a server that
/// passes it back could loop.
fn node_target<'a>(state: &'a AgentState, node_id: &str) -> Result<NodeTarget<'a>, ApiError> {
    if let Some(client) = &state.client
        && (node_id.is_empty() || client.node().id.as_str().starts_with(node_id))
    {
        return Ok(NodeTarget::Local(client));
    }
    if node_id.is_empty() {
        return Err(client_not_running());
    }
    let server = state.server.as_ref().ok_or_else(|| unknown_node(node_id))?;
    let snapshot = server.snapshot();
    let node = match snapshot.node(node_id) {
        Some(node) => node,
        None => match snapshot.nodes_by_prefix(node_id).as_slice() {
            [node] => node.clone(),
            _ => return Err(unknown_node(node_id)),
        },
    };
    if node.http_addr.is_empty() {
        return Err(unknown_node(node_id));
    }
    Ok(NodeTarget::Remote(state.tls.http_url(&node.http_addr)))
}

/// `GET /v1/client/stats[?node_id=]`: the host's memory, CPUs, disk and uptime, in
/// Nomad's `HostStats` shape.
pub async fn host_stats(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let client = match node_target(&state, context.param("node_id").unwrap_or(""))? {
        NodeTarget::Local(client) => client,
        NodeTarget::Remote(base) => {
            return forward(
                state.clients_http(),
                &base,
                method,
                &uri,
                &headers,
                Bytes::new(),
            )
            .await;
        }
    };
    // The telemetry loop's latest sample; without one (no telemetry yet), a sample now,
    // whose CPU shares are then counted since boot. /proc is read off the runtime.
    let sampled = state.telemetry.as_ref().and_then(|t| t.host_sample());
    let stats = match sampled {
        Some(stats) => stats,
        None => {
            let data_dir = std::path::PathBuf::from(&state.info.data_dir);
            tokio::task::spawn_blocking(move || HostSampler::new(&data_dir).sample())
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        }
    };
    let node = client.node();
    let cores = stats.cpus.len().max(1) as f64;
    let mhz_per_core = node.node_resources.cpu.cpu_shares as f64 / cores;
    Ok(Json(host_stats_response(&stats, mhz_per_core)).into_response())
}

/// Nomad's `HostStats` of a sample; `CPUTicksConsumed` is the busy share of each core
/// times its MHz, summed.
pub(crate) fn host_stats_response(stats: &HostStats, mhz_per_core: f64) -> HostStatsResponse {
    let disk = HostDiskStats {
        device: stats.disk.device.clone(),
        mountpoint: stats.disk.mountpoint.clone(),
        size: stats.disk.size,
        used: stats.disk.used,
        available: stats.disk.available,
        used_percent: stats.disk.used_percent,
        inodes_used_percent: 0.0,
    };
    HostStatsResponse {
        memory: HostMemoryStats {
            total: stats.memory_total,
            available: stats.memory_available,
            used: stats.memory_used,
            free: stats.memory_free,
        },
        cpu: stats
            .cpus
            .iter()
            .map(|c| HostCpuStats {
                cpu: c.cpu.clone(),
                user: c.user,
                system: c.system,
                idle: c.idle,
                total: c.total,
            })
            .collect(),
        disk_stats: vec![disk.clone()],
        alloc_dir_stats: disk,
        device_stats: Vec::new(),
        uptime: stats.uptime,
        timestamp: stats.timestamp,
        cpu_ticks_consumed: stats
            .cpus
            .iter()
            .map(|c| c.total / 100.0 * mhz_per_core)
            .sum(),
    }
}

/// `GET|PUT|POST /v1/client/gc[?node_id=]`: removes every finished allocation's
/// directory on the node. Answers an empty 200, as Nomad does (whose route takes any
/// method).
pub async fn gc_all(
    State(state): State<Arc<AgentState>>,
    context: RequestContext,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match node_target(&state, context.param("node_id").unwrap_or(""))? {
        NodeTarget::Local(client) => {
            client.collect_all().await;
            Ok(StatusCode::OK.into_response())
        }
        NodeTarget::Remote(base) => {
            forward(
                state.clients_http(),
                &base,
                method,
                &uri,
                &headers,
                Bytes::new(),
            )
            .await
        }
    }
}

/// `GET|PUT|POST /v1/client/allocation/:id/gc`: removes one finished allocation's
/// directory and state on the client that ran it. An allocation still running (or
/// unknown to its client) is Nomad's 404 `Unknown allocation`.
pub async fn gc_allocation(
    State(state): State<Arc<AgentState>>,
    Path(alloc_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(client) = &state.client
        && let Some(id) = state.local_alloc_id(&alloc_id)
    {
        if client.collect_allocation(&id).await {
            return Ok(Json(serde_json::json!({})).into_response());
        }
        return Err(unknown_allocation(&alloc_id));
    }
    forward_to_runner(&state, &alloc_id, method, &uri, &headers, Bytes::new()).await
}
