//! A client agent's connection to its servers: `caravan-api-client`'s [`RpcClient`] on
//! each server's RPC port, tried in turn.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use caravan_api_client::{Error, QueryOptions, RpcClient};
use caravan_api_types::rpc::{AllocUpdateRequest, HeartbeatRequest, HeartbeatResponse};
use caravan_client::{RpcError, ServerRpc};
use caravan_structs::{AllocClientUpdate, Allocation, Node, NodeId};

use super::LONG_POLL;

/// The servers, tried in turn: a call that cannot reach one moves on to the next.
pub struct RemoteRpc {
    /// Each server's `host:port` and its client, in the configured order.
    servers: Vec<(String, Result<RpcClient, String>)>,
    current: AtomicUsize,
}

impl RemoteRpc {
    /// `servers` are `host:port` RPC addresses; their calls share `http`'s pool.
    pub fn new(servers: Vec<String>, http: reqwest::Client) -> RemoteRpc {
        let servers = servers
            .into_iter()
            .map(|server| {
                let client = RpcClient::new(&server, http.clone())
                    .map_err(|e| format!("server {server} unusable: {e}"));
                (server, client)
            })
            .collect();
        RemoteRpc {
            servers,
            current: AtomicUsize::new(0),
        }
    }

    /// Sends one call to the current server, failing over to the others when one
    /// cannot be reached. An answer, even an error status, is final.
    async fn call<'a, T, F>(&'a self, call: impl Fn(&'a RpcClient) -> F) -> Result<T, RpcError>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let mut last = String::from("no servers configured");
        for attempt in 0..self.servers.len() {
            let which = (self.current.load(Ordering::Relaxed) + attempt) % self.servers.len();
            let (server, client) = &self.servers[which];
            let client = match client {
                Ok(client) => client,
                Err(unusable) => {
                    last = unusable.clone();
                    continue;
                }
            };
            match call(client).await {
                Ok(value) => {
                    self.current.store(which, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(error @ Error::Transport { .. }) => {
                    last = format!("server {server} unreachable: {error}");
                }
                Err(error) => {
                    self.current.store(which, Ordering::Relaxed);
                    return Err(rpc_error(server, error));
                }
            }
        }
        Err(RpcError::Unavailable(last))
    }
}

/// A server's answer as the client acts on it: by the `X-Caravan-Error` kind, never by
/// the message's words.
fn rpc_error(server: &str, error: Error) -> RpcError {
    match error {
        Error::Status { code, body, kind } => {
            let status = reqwest::StatusCode::from_u16(code)
                .map(|s| s.to_string())
                .unwrap_or_else(|_| code.to_string());
            let message = format!("{server} answered {status}: {body}");
            // A server error without a kind (a proxy, an older agent) may pass; one
            // with a kind is the server's answer.
            super::rpc_error(kind.as_deref(), message)
        }
        other => RpcError::Unavailable(format!("bad answer from {server}: {other}")),
    }
}

fn ttl(answer: HeartbeatResponse) -> Duration {
    Duration::from_nanos(answer.heartbeat_ttl.max(1_000_000) as u64)
}

impl ServerRpc for RemoteRpc {
    async fn register_node(&self, node: Node) -> Result<Duration, RpcError> {
        let answer = self.call(|rpc| rpc.register_node(&node)).await?;
        Ok(ttl(answer))
    }

    async fn heartbeat(&self, node_id: &NodeId, secret_id: &str) -> Result<Duration, RpcError> {
        let request = HeartbeatRequest {
            node_id: node_id.clone(),
            secret_id: secret_id.to_string(),
        };
        let answer = self.call(|rpc| rpc.heartbeat(&request)).await?;
        Ok(ttl(answer))
    }

    async fn node_allocations(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        min_index: u64,
    ) -> Result<(Vec<Allocation>, u64), RpcError> {
        let options = QueryOptions {
            index: min_index,
            wait: Some(LONG_POLL),
        };
        let read = self
            .call(|rpc| rpc.node_allocations(node_id, secret_id, options))
            .await?;
        let index = if read.index == 0 {
            min_index
        } else {
            read.index
        };
        Ok((read.value, index))
    }

    async fn update_allocations(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        updates: Vec<AllocClientUpdate>,
    ) -> Result<(), RpcError> {
        let request = AllocUpdateRequest {
            node_id: node_id.clone(),
            allocs: updates,
        };
        self.call(|rpc| rpc.update_allocations(secret_id, &request))
            .await
            .map(drop)
    }
}
