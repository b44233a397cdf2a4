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

/// `GET /v1/agent/self`: Nomad's lower-case top-level keys.
pub async fn agent_self(State(state): State<Arc<AgentState>>) -> Response {
    let info = &state.info;
    let (host, port) = split_addr(&info.rpc_addr);
    let node_id = state
        .client
        .as_ref()
        .map(|c| c.node().id.clone())
        .unwrap_or_default();
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
        "stats": {
            "client": { "node_id": node_id },
        },
    }))
    .into_response()
}

fn split_addr(addr: &str) -> (String, u16) {
    match addr.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().unwrap_or(0)),
        None => (addr.to_string(), 0),
    }
}

/// `GET /v1/agent/health`.
pub async fn health(State(state): State<Arc<AgentState>>) -> Response {
    let mut body = serde_json::Map::new();
    if state.info.server_enabled {
        body.insert("server".into(), json!({ "ok": true, "message": "ok" }));
    }
    if state.info.client_enabled {
        body.insert("client".into(), json!({ "ok": true, "message": "ok" }));
    }
    Json(body).into_response()
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
