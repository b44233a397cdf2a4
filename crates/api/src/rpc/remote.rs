//! A client agent's connection to its servers: HTTP calls on the servers' RPC port.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use caravan_client::{RpcError, ServerRpc};
use caravan_structs::{AllocClientUpdate, Allocation, Node};
use serde::de::DeserializeOwned;

use super::{ERROR_NODE_NOT_FOUND, ERROR_PERMISSION_DENIED, LONG_POLL};
use crate::ERROR_KIND_HEADER;

/// The servers, tried in turn: a call that cannot reach one moves on to the next.
pub struct RemoteRpc {
    servers: Vec<String>,
    current: AtomicUsize,
    http: reqwest::Client,
}

impl RemoteRpc {
    /// `servers` are `host:port` RPC addresses.
    pub fn new(servers: Vec<String>, http: reqwest::Client) -> RemoteRpc {
        RemoteRpc {
            servers,
            current: AtomicUsize::new(0),
            http,
        }
    }

    /// Sends one call to the current server, failing over to the others on a
    /// connection error. An answer with an error status is final.
    async fn call<T: DeserializeOwned>(
        &self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<(T, Option<u64>), RpcError> {
        let mut last = String::from("no servers configured");
        for attempt in 0..self.servers.len() {
            let which = (self.current.load(Ordering::Relaxed) + attempt) % self.servers.len();
            let server = &self.servers[which];
            match build(&self.http, server).send().await {
                Ok(response) => {
                    self.current.store(which, Ordering::Relaxed);
                    let status = response.status();
                    let index = response
                        .headers()
                        .get("x-nomad-index")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    let kind = response
                        .headers()
                        .get(ERROR_KIND_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let body = response.bytes().await.map_err(|e| {
                        RpcError::Unavailable(format!("reading answer of {server}: {e}"))
                    })?;
                    if !status.is_success() {
                        let message = format!(
                            "{server} answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        );
                        return Err(match kind.as_deref() {
                            Some(ERROR_NODE_NOT_FOUND) => RpcError::NodeNotFound,
                            Some(ERROR_PERMISSION_DENIED) => RpcError::PermissionDenied(message),
                            // A server error without a kind (a proxy, an older agent)
                            // may pass; one with a kind is the server's answer.
                            Some(_) => RpcError::Refused(message),
                            None => RpcError::Unavailable(message),
                        });
                    }
                    let value = serde_json::from_slice(&body).map_err(|e| {
                        RpcError::Unavailable(format!("bad answer from {server}: {e}"))
                    })?;
                    return Ok((value, index));
                }
                Err(error) => last = format!("server {server} unreachable: {error}"),
            }
        }
        Err(RpcError::Unavailable(last))
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ttl {
    #[serde(rename = "HeartbeatTTL")]
    heartbeat_ttl: i64,
}

fn ttl(answer: Ttl) -> Duration {
    Duration::from_nanos(answer.heartbeat_ttl.max(1_000_000) as u64)
}

use super::NODE_SECRET_HEADER as SECRET;

impl ServerRpc for RemoteRpc {
    async fn register_node(&self, node: Node) -> Result<Duration, RpcError> {
        let (answer, _) = self
            .call(|http, server| {
                http.post(format!("http://{server}/v1/internal/node/register"))
                    .json(&node)
                    .timeout(Duration::from_secs(10))
            })
            .await?;
        Ok(ttl(answer))
    }

    async fn heartbeat(&self, node_id: &str, secret_id: &str) -> Result<Duration, RpcError> {
        let body = serde_json::json!({ "NodeID": node_id, "SecretID": secret_id });
        let (answer, _) = self
            .call(|http, server| {
                http.post(format!("http://{server}/v1/internal/node/heartbeat"))
                    .json(&body)
                    .timeout(Duration::from_secs(10))
            })
            .await?;
        Ok(ttl(answer))
    }

    async fn node_allocations(
        &self,
        node_id: &str,
        secret_id: &str,
        min_index: u64,
    ) -> Result<(Vec<Allocation>, u64), RpcError> {
        let wait = format!("{}s", LONG_POLL.as_secs());
        let (allocs, index) = self
            .call(|http, server| {
                http.get(format!(
                    "http://{server}/v1/internal/node/{node_id}/allocations"
                ))
                .query(&[("index", min_index.to_string()), ("wait", wait.clone())])
                .header(SECRET, secret_id)
                .timeout(LONG_POLL + Duration::from_secs(30))
            })
            .await?;
        Ok((allocs, index.unwrap_or(min_index)))
    }

    async fn update_allocations(
        &self,
        node_id: &str,
        secret_id: &str,
        updates: Vec<AllocClientUpdate>,
    ) -> Result<(), RpcError> {
        let body = serde_json::json!({ "NodeID": node_id, "Allocs": updates });
        let _: (serde_json::Value, _) = self
            .call(|http, server| {
                http.post(format!("http://{server}/v1/internal/allocations/update"))
                    .header(SECRET, secret_id)
                    .json(&body)
                    .timeout(Duration::from_secs(30))
            })
            .await?;
        Ok(())
    }
}
