//! A server among servers: followers pass writes and fresh reads to the leader, the
//! answers say how fresh they are, and the endpoints that show and change the cluster
//! (`/v1/status/*`, `/v1/operator/raft/*`, `/v1/agent/members|join|force-leave`), plus
//! what other servers call: Raft's messages on the RPC port, membership on the serf
//! port.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use caravan_api_types::snapshot_archive::{
    SnapshotMeta, SnapshotServer, read_archive, write_archive,
};
use caravan_api_types::{AgentMember, JoinResponse, RaftConfiguration, RaftServer, ServerMembers};
use caravan_raft::transport::{MSGPACK, paths};
use caravan_raft::{RaftNode, ServerNode, raft_id};
use serde_json::json;

use crate::tls::{PeerRole, require_peer};
use crate::{AgentState, ApiError};

/// Marks a call one server passed to the leader: a server that gets one and does not
/// lead (leadership moved meanwhile) answers "No cluster leader" rather than passing it
/// on again, so two servers with stale views never bounce a call between them.
pub(crate) const FORWARDED_HEADER: &str = "x-caravan-forwarded";

/// Which of the leader's listeners a forwarded call goes to.
#[derive(Clone, Copy)]
pub(crate) enum Listener {
    Http,
    Rpc,
}

fn raft(state: &AgentState) -> Result<&Arc<RaftNode>, ApiError> {
    state
        .raft
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_IMPLEMENTED, "this agent runs no server"))
}

/// Whether the caller accepts this server's own, possibly stale, answer (`?stale`).
fn stale_allowed(request: &Request) -> bool {
    let query = request.uri().query().unwrap_or_default();
    Query::<HashMap<String, String>>::try_from_uri(request.uri())
        .map(|Query(params)| {
            params.get("stale").is_some_and(|v| {
                !matches!(v.as_str(), "0" | "f" | "F" | "false" | "FALSE" | "False")
            })
        })
        .unwrap_or_else(|_| query.contains("stale"))
}

/// Paths every server answers itself: its own view of the cluster.
fn answered_locally(path: &str) -> bool {
    path.starts_with("/v1/agent/")
        || path.starts_with("/v1/status/")
        || path == "/v1/regions"
        || path.starts_with("/v1/internal/raft/")
        // Every server derives the events of the log it applies.
        || path == "/v1/event/stream"
}

/// Runs the call here when this server leads (or the caller allows a stale read, or the
/// path is this server's own), and otherwise passes it to the leader and relays its
/// answer, as Nomad's RPC forwarding does.
pub(crate) async fn to_leader(
    State((state, listener)): State<(Arc<AgentState>, Listener)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(raft) = &state.raft else {
        return next.run(request).await;
    };
    let read = request.method() == Method::GET || request.method() == Method::HEAD;
    if raft.is_leader()
        || answered_locally(request.uri().path())
        || (read && stale_allowed(&request))
    {
        return next.run(request).await;
    }
    let no_leader =
        || ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "No cluster leader").into_response();
    if request.headers().contains_key(FORWARDED_HEADER) {
        return no_leader();
    }
    let Some(leader) = raft.leader().filter(|l| l.id != raft.me().id) else {
        return no_leader();
    };
    let address = match listener {
        Listener::Http => state.tls.http_url(&leader.http_addr),
        Listener::Rpc => state.tls.rpc_url(&leader.rpc_addr),
    };
    let (mut parts, body) = request.into_parts();
    parts
        .headers
        .insert(FORWARDED_HEADER, HeaderValue::from_static("1"));
    let body = match axum::body::to_bytes(body, MAX_SNAPSHOT_BYTES).await {
        Ok(body) => body,
        Err(error) => return ApiError::bad_request(error.to_string()).into_response(),
    };
    match crate::proxy::forward(
        &state.http,
        &address,
        parts.method,
        &parts.uri,
        &parts.headers,
        body,
    )
    .await
    {
        Ok(response) => response,
        // The leader this server knew is gone and no other has been heard from yet
        // (an election is under way): the caller retries, as it would on Nomad's
        // "No cluster leader".
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("No cluster leader: the last known leader, {address}, cannot be reached"),
        )
        .into_response(),
    }
}

/// Sets `X-Nomad-KnownLeader` and `X-Nomad-LastContact` on reads from what this
/// server's Raft knows (an answer relayed from the leader keeps the leader's).
pub(crate) async fn leader_meta(
    State(state): State<Arc<AgentState>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let Some(raft) = &state.raft else {
        return response;
    };
    let headers = response.headers_mut();
    if headers.contains_key("x-nomad-index") && !headers.contains_key("x-nomad-knownleader") {
        let known = raft.leader().is_some();
        let contact = raft.last_contact().map(|d| d.as_millis()).unwrap_or(0);
        headers.insert(
            "x-nomad-knownleader",
            HeaderValue::from_static(if known { "true" } else { "false" }),
        );
        if let Ok(value) = HeaderValue::from_str(&contact.to_string()) {
            headers.insert("x-nomad-lastcontact", value);
        }
    }
    response
}

/// `GET /v1/status/leader`: the leader's RPC address, `""` when none is known.
pub async fn status_leader(State(state): State<Arc<AgentState>>) -> Response {
    let leader = match &state.raft {
        Some(raft) => raft.leader().map(|l| l.rpc_addr).unwrap_or_default(),
        None => state.info.rpc_addr.clone(),
    };
    Json(leader).into_response()
}

/// `GET /v1/status/peers`: the voters' RPC addresses.
pub async fn status_peers(State(state): State<Arc<AgentState>>) -> Response {
    let peers: Vec<String> = match &state.raft {
        Some(raft) => raft
            .voters()
            .into_iter()
            .map(|node| node.rpc_addr)
            .collect(),
        None => vec![state.info.rpc_addr.clone()],
    };
    Json(peers).into_response()
}

/// `GET /v1/operator/raft/configuration`.
pub async fn raft_configuration(
    State(state): State<Arc<AgentState>>,
) -> Result<Response, ApiError> {
    let raft = raft(&state)?;
    let (index, servers) = raft.configuration();
    let leader = raft.leader().map(|l| l.id);
    let servers = servers
        .into_iter()
        .map(|(node, voter)| RaftServer {
            leader: leader.as_deref() == Some(node.id.as_str()),
            id: node.id,
            node: node.name,
            address: node.rpc_addr,
            voter,
            raft_protocol: "3".into(),
        })
        .collect();
    Ok(crate::blocking::indexed(
        RaftConfiguration { index, servers },
        index,
    ))
}

/// `DELETE /v1/operator/raft/peer?address=<rpc addr>` or `?id=<server ID>`.
pub async fn raft_remove_peer(
    State(state): State<Arc<AgentState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let raft = raft(&state)?;
    let (_, servers) = raft.configuration();
    let found = match (params.get("address"), params.get("id")) {
        (Some(address), None) => servers.iter().find(|(n, _)| &n.rpc_addr == address),
        (None, Some(id)) => servers.iter().find(|(n, _)| &n.id == id),
        _ => {
            return Err(ApiError::bad_request(
                "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
            ));
        }
    };
    let Some((node, _)) = found else {
        let what = params
            .get("address")
            .map(|a| format!("address \"{a}\""))
            .or_else(|| params.get("id").map(|i| format!("id \"{i}\"")))
            .unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("no raft peer with {what}"),
        ));
    };
    raft.remove_server(raft_id(&node.id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(StatusCode::OK.into_response())
}

fn agent_member(node: &ServerNode, alive: bool) -> AgentMember {
    let (host, serf_port) = split(&node.serf_addr);
    let (_, rpc_port) = split(&node.rpc_addr);
    let tags = [
        ("role", "nomad".to_string()),
        ("region", node.region.clone()),
        ("dc", node.datacenter.clone()),
        ("port", rpc_port.to_string()),
        ("rpc_addr", host.clone()),
        ("id", node.id.clone()),
        ("expect", node.bootstrap_expect.to_string()),
        ("build", caravan_structs::CARAVAN_VERSION.to_string()),
        ("vsn", "1".to_string()),
        ("raft_vsn", "3".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let status = if alive { "alive" } else { "failed" };
    AgentMember::new(node.name.clone(), host, serf_port, tags, status)
}

fn split(address: &str) -> (String, u16) {
    match address.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().unwrap_or(0)),
        None => (address.to_string(), 0),
    }
}

/// `GET /v1/agent/members`: the servers of the membership, `alive` when they answer a
/// ping on their serf port.
pub async fn agent_members(State(state): State<Arc<AgentState>>) -> Result<Response, ApiError> {
    let raft = raft(&state)?;
    let members: Vec<_> = raft
        .members_alive()
        .await
        .iter()
        .map(|(node, alive)| agent_member(node, *alive))
        .collect();
    Ok(Json(ServerMembers {
        server_name: state.info.name.clone(),
        server_region: state.info.region.clone(),
        server_dc: state.info.datacenter.clone(),
        members,
    })
    .into_response())
}

/// `PUT /v1/agent/join?address=<serf addr>...`.
pub async fn agent_join(
    State(state): State<Arc<AgentState>>,
    uri: axum::http::Uri,
) -> Result<Response, ApiError> {
    let raft = raft(&state)?;
    let addresses: Vec<String> = url_pairs(uri.query().unwrap_or_default())
        .into_iter()
        .filter(|(k, _)| k == "address")
        .map(|(_, v)| v)
        .collect();
    if addresses.is_empty() {
        return Err(ApiError::bad_request("missing address to join"));
    }
    let (joined, error) = match raft.join(&addresses).await {
        Ok(joined) => (joined, String::new()),
        Err(error) => (0, error),
    };
    Ok(Json(JoinResponse {
        num_joined: joined as i64,
        error,
    })
    .into_response())
}

/// `PUT /v1/agent/force-leave?node=<name>`: removes a server that is gone from the
/// membership.
pub async fn agent_force_leave(
    State(state): State<Arc<AgentState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let raft = raft(&state)?;
    let Some(name) = params.get("node") else {
        return Err(ApiError::bad_request("missing node to force leave"));
    };
    let (_, servers) = raft.configuration();
    let Some((node, _)) = servers
        .iter()
        .find(|(n, _)| &n.name == name || n.name.split('.').next() == Some(name.as_str()))
    else {
        // Nomad: serf's force-leave of a name it does not know is no error (it
        // broadcasts the leave intent anyway), so the call answers 200.
        return Ok(StatusCode::OK.into_response());
    };
    if node.id == raft.me().id {
        return Err(ApiError::bad_request(
            "a server cannot force itself to leave",
        ));
    }
    let id = raft_id(&node.id);
    if raft.is_leader() {
        raft.remove_server(id)
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        return Ok(StatusCode::OK.into_response());
    }
    // Only the leader changes the membership: ask it.
    let Some(leader) = raft.leader() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No cluster leader",
        ));
    };
    let uri: axum::http::Uri = format!("/v1/operator/raft/peer?id={}", node.id)
        .parse()
        .map_err(|_| ApiError::bad_request("invalid node"))?;
    crate::proxy::forward(
        &state.http,
        &state.tls.http_url(&leader.http_addr),
        Method::DELETE,
        &uri,
        &axum::http::HeaderMap::new(),
        Bytes::new(),
    )
    .await
}

/// `?a=1&a=2` pairs, decoded, in order (`Query` into a map keeps one of each).
fn url_pairs(query: &str) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(&format!("/?{query}").parse().unwrap_or_default())
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

/// `GET /v1/agent/servers`: the servers this agent talks to.
pub async fn agent_servers(State(state): State<Arc<AgentState>>) -> Response {
    let servers = match &state.raft {
        Some(raft) => raft
            .configuration()
            .1
            .into_iter()
            .map(|(node, _)| node.rpc_addr)
            .collect(),
        None => state.servers.clone(),
    };
    Json(servers).into_response()
}

/// The largest snapshot `PUT /v1/operator/snapshot` takes.
pub(crate) const MAX_SNAPSHOT_BYTES: usize = 1 << 30;

/// `GET /v1/operator/snapshot`: the whole state as a snapshot archive (Nomad's
/// format: `meta.json`, `state.bin`, `SHA256SUMS` in a gzip'd tar).
pub async fn snapshot_save(State(state): State<Arc<AgentState>>) -> Result<Response, ApiError> {
    let raft = raft(&state)?;
    let snapshot = state.server()?.snapshot();
    let metrics = raft.metrics();
    let (configuration_index, servers) = raft.configuration();
    let archive = tokio::task::spawn_blocking(move || {
        let state_bytes = caravan_raft::state_machine::encode_state(&snapshot)?;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let mut meta = SnapshotMeta::new(metrics.current_term, snapshot.index, millis);
        meta.configuration_index = configuration_index;
        meta.configuration.servers = servers
            .into_iter()
            .map(|(node, voter)| SnapshotServer {
                suffrage: if voter { 0 } else { 1 },
                id: node.id,
                address: node.rpc_addr,
            })
            .collect();
        Ok::<_, String>(write_archive(&meta, &state_bytes))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
        archive,
    )
        .into_response())
}

/// `PUT /v1/operator/snapshot`: replaces the cluster's state with the archive's,
/// through the log (every server gets it).
pub async fn snapshot_restore(
    State(state): State<Arc<AgentState>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let server = state.server()?.clone();
    let restored = tokio::task::spawn_blocking(move || {
        let (_, state_bytes) = read_archive(&body).map_err(|e| e.to_string())?;
        caravan_raft::state_machine::decode_state(&state_bytes)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(ApiError::bad_request)?;
    server.restore_snapshot(restored).await?;
    Ok(StatusCode::OK.into_response())
}

async fn raft_message(
    state: Arc<AgentState>,
    body: Bytes,
    handle: impl AsyncFnOnce(&RaftNode, &[u8]) -> Result<Vec<u8>, String>,
) -> Response {
    let Some(raft) = &state.raft else {
        return ApiError::new(StatusCode::NOT_FOUND, "this agent runs no server").into_response();
    };
    match handle(raft, &body).await {
        Ok(answer) => ([(axum::http::header::CONTENT_TYPE, MSGPACK)], answer).into_response(),
        Err(error) => ApiError::bad_request(error).into_response(),
    }
}

async fn append_entries(State(state): State<Arc<AgentState>>, body: Bytes) -> Response {
    raft_message(state, body, async |raft, body| {
        raft.handle_append_entries(body).await
    })
    .await
}

async fn vote(State(state): State<Arc<AgentState>>, body: Bytes) -> Response {
    raft_message(state, body, async |raft, body| raft.handle_vote(body).await).await
}

async fn install_snapshot(State(state): State<Arc<AgentState>>, body: Bytes) -> Response {
    raft_message(state, body, async |raft, body| {
        raft.handle_install_snapshot(body).await
    })
    .await
}

/// Raft's messages, on a server's RPC port.
pub(crate) fn raft_routes() -> Router<Arc<AgentState>> {
    Router::new()
        .route(paths::APPEND_ENTRIES, post(append_entries))
        .route(paths::VOTE, post(vote))
        .route(paths::INSTALL_SNAPSHOT, post(install_snapshot))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// `GET` (a ping) or `POST` with the asking server (a server looking for others to
/// form a cluster with, which this one then counts too).
async fn member(State(state): State<Arc<AgentState>>, body: Bytes) -> Result<Response, ApiError> {
    let raft = raft(&state)?;
    if !body.is_empty() {
        let asking: ServerNode = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("unreadable server: {e}")))?;
        raft.introduced(asking);
    }
    Ok(Json(raft.member_info()).into_response())
}

async fn join(
    State(state): State<Arc<AgentState>>,
    Json(node): Json<ServerNode>,
) -> Result<Response, ApiError> {
    raft(&state)?
        .handle_join(node)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    Ok(Json(json!({})).into_response())
}

/// The serf port of a server: the join handshake and membership pings.
pub fn serf_router(state: Arc<AgentState>) -> Router {
    let routes = Router::new()
        .route(paths::MEMBER, get(member).post(member))
        .route(paths::JOIN, post(join))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), PeerRole::Server),
            require_peer,
        ))
        .with_state(state);
    crate::layers::around(routes)
}
