//! The agent's own endpoints: `/v1/agent/*`, `/v1/status/*`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use caravan_api_types::{SchedulerConfigurationResponse, SchedulerSetConfigurationResponse};
use serde_json::json;

use crate::AgentState;

/// What `/v1/agent/self` and `/v1/status/*` report about this agent.
#[derive(Debug, Clone, Default)]
pub struct AgentInfo {
    pub name: String,
    pub region: String,
    pub datacenter: String,
    /// `host:port` of the HTTP API.
    pub http_addr: String,
    /// `host:port` of the RPC listener (the leader's address clients are told).
    pub rpc_addr: String,
    pub server_enabled: bool,
    pub client_enabled: bool,
    pub dev_mode: bool,
    pub data_dir: String,
}

/// The `stats` of `/v1/agent/self`: Nomad's sections (`client`, `nomad`, `raft`,
/// `runtime`, `serf`) for the parts this agent runs, every value as text, as Nomad
/// reports them (`nomad agent-info` prints them).
fn agent_stats(state: &AgentState) -> serde_json::Value {
    let mut stats = serde_json::Map::new();
    let text = |pairs: Vec<(&str, String)>| -> serde_json::Value {
        pairs
            .into_iter()
            .map(|(key, value)| (key.to_string(), serde_json::Value::String(value)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    if let Some(client) = &state.client {
        stats.insert(
            "client".into(),
            text(vec![
                ("node_id", client.node().id.to_string()),
                ("known_servers", state.servers.len().to_string()),
                (
                    "num_allocations",
                    client.allocations_by_prefix("").len().to_string(),
                ),
            ]),
        );
    }
    if state.info.server_enabled {
        let leader = state.raft.as_ref().is_none_or(|raft| raft.is_leader());
        let leader_addr = state
            .raft
            .as_ref()
            .and_then(|raft| raft.leader())
            .map(|node| node.rpc_addr)
            .unwrap_or_else(|| {
                if leader {
                    state.info.rpc_addr.clone()
                } else {
                    String::new()
                }
            });
        stats.insert(
            "nomad".into(),
            text(vec![
                ("server", "true".into()),
                ("leader", leader.to_string()),
                ("leader_addr", leader_addr),
                ("known_regions", "1".into()),
                (
                    "bootstrap",
                    state
                        .raft
                        .as_ref()
                        .is_some_and(|raft| raft.forms_cluster_alone())
                        .to_string(),
                ),
            ]),
        );
        if let Some(raft) = &state.raft {
            stats.insert("raft".into(), json!(raft.stats()));
            // Caravan has no gossip (servers join and ping over the serf port), so there
            // are no failed or left members to count: the members are Raft's servers.
            // Pinging them here would make every call wait on a server that is down.
            let (_, members) = raft.configuration();
            stats.insert(
                "serf".into(),
                text(vec![
                    ("members", members.len().max(1).to_string()),
                    ("encrypted", "false".into()),
                ]),
            );
        }
    }
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let arch = match std::env::consts::ARCH {
        // Go's names, which Nomad reports.
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    stats.insert(
        "runtime".into(),
        text(vec![
            ("arch", arch.to_string()),
            ("cpu_count", cpus.to_string()),
            ("kernel.name", std::env::consts::OS.to_string()),
            ("max_procs", cpus.to_string()),
            (
                "version",
                format!("caravan {}", caravan_structs::CARAVAN_VERSION),
            ),
        ]),
    );
    stats.into()
}

/// `GET /v1/agent/self`: Nomad's lower-case top-level keys.
pub async fn agent_self(State(state): State<Arc<AgentState>>) -> Response {
    let stats = agent_stats(&state);
    let info = &state.info;
    let (host, port) = split_addr(&info.rpc_addr);
    Json(json!({
        "config": {
            "Region": info.region,
            "Datacenter": info.datacenter,
            "NodeName": info.name,
            "DataDir": info.data_dir,
            "DevMode": info.dev_mode,
            "Version": { "Version": caravan_structs::CARAVAN_VERSION, "VersionPrerelease": "", "Revision": "caravan" },
            "Server": { "Enabled": info.server_enabled },
            "Client": { "Enabled": info.client_enabled },
            "Addresses": { "HTTP": info.http_addr },
        },
        "member": {
            "Name": format!("{}.{}", info.name, info.region),
            "Addr": host,
            "Port": port,
            "Status": "alive",
            "Tags": {
                "region": info.region,
                "dc": info.datacenter,
                "role": if info.server_enabled { "nomad" } else { "client" },
                "build": caravan_structs::CARAVAN_VERSION,
            },
        },
        "stats": stats,
    }))
    .into_response()
}

fn split_addr(addr: &str) -> (String, u16) {
    match addr.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().unwrap_or(0)),
        None => (addr.to_string(), 0),
    }
}

/// `GET /v1/agent/health[?type=client|server]`: each part this agent runs (or only
/// those `type` names), `500` with the same body when one is not ok, as Nomad answers:
/// a server is ok when its cluster has a leader, a client when the servers know its
/// node (its last registration or heartbeat went through).
pub async fn health(State(state): State<Arc<AgentState>>, uri: axum::http::Uri) -> Response {
    let types: Vec<String> = uri
        .query()
        .map(|query| {
            url_pairs(query)
                .filter(|(key, _)| key == "type")
                .map(|(_, value)| value)
                .collect()
        })
        .unwrap_or_default();
    let wanted = |part: &str| types.is_empty() || types.iter().any(|t| t == part);
    let mut body = serde_json::Map::new();
    let mut healthy = true;
    let mut part = |name: &str, problem: Option<String>| {
        healthy &= problem.is_none();
        let message = problem.unwrap_or_else(|| "ok".into());
        let ok = message == "ok";
        body.insert(name.into(), json!({ "ok": ok, "message": message }));
    };
    if let Some(client) = state.client.as_ref().filter(|_| wanted("client")) {
        part(
            "client",
            (!client.is_connected()).then(|| {
                "the servers do not know this node: its last heartbeat failed".to_string()
            }),
        );
    }
    if state.info.server_enabled && wanted("server") {
        let problem = match &state.raft {
            Some(raft) if raft.leader().is_none() => Some("No cluster leader".to_string()),
            _ => None,
        };
        part("server", problem);
    }
    let status = if healthy {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(body)).into_response()
}

/// `key=value` pairs of a query string, decoded.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key.to_string(), value.to_string())
    })
}

/// `GET /v1/regions`.
pub async fn regions(State(state): State<Arc<AgentState>>) -> Response {
    Json(vec![state.info.region.clone()]).into_response()
}

/// `GET /v1/operator/scheduler/configuration`.
pub async fn scheduler_configuration(
    State(state): State<Arc<AgentState>>,
) -> Result<Response, crate::ApiError> {
    let config = state.server()?.scheduler_configuration();
    let index = config.modify_index;
    Ok(crate::blocking::indexed(
        SchedulerConfigurationResponse {
            scheduler_config: config,
            index,
            known_leader: true,
        },
        index,
    ))
}

/// `PUT /v1/operator/scheduler/configuration`.
pub async fn set_scheduler_configuration(
    State(state): State<Arc<AgentState>>,
    body: axum::body::Bytes,
) -> Result<Response, crate::ApiError> {
    let update: caravan_server::SchedulerConfiguration = crate::context::decode_body(&body)?;
    let index = state.server()?.set_scheduler_configuration(update).await?;
    Ok(Json(SchedulerSetConfigurationResponse {
        updated: true,
        index,
    })
    .into_response())
}
