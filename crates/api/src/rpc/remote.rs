//! A client agent's connection to its servers: `caravan-api-client`'s [`RpcClient`] on
//! each server's RPC port, tried in turn.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use caravan_api_client::{Error, QueryOptions, RpcClient};
use caravan_api_types::rpc::{
    AllocUpdateRequest, AllocsGetRequest, HeartbeatRequest, HeartbeatResponse,
    NodeClientAllocsResponse, ServiceDeleteRequest, ServiceUpsertRequest,
};
use caravan_client::{RpcError, ServerRpc, Workload};
use caravan_structs::{
    AllocClientUpdate, AllocId, Allocation, Node, NodeId, ServiceRegistration,
    ServiceRegistrationListStub, Variable, VariableMetadata,
};

use super::LONG_POLL;

/// One server: its `host:port` and its client (or why its address is unusable).
type KnownServer = (String, Result<RpcClient, String>);

/// The servers, tried in turn: a call that cannot reach one (or that one answers
/// without being able to serve, e.g. while it has no leader) moves on to the next.
pub struct RemoteRpc {
    http: reqwest::Client,
    /// `https` when the servers' RPC ports speak TLS (`tls { rpc = true }`).
    scheme: &'static str,
    /// The configured servers first, then those learned from `/v1/status/peers`.
    servers: arc_swap::ArcSwap<Vec<KnownServer>>,
    current: AtomicUsize,
    /// The ACL token the node's calls carry (`acl.token`), if any.
    token: Option<String>,
}

/// How often a client asks its servers for their peers.
const PEERS_INTERVAL: Duration = Duration::from_secs(30);

fn known_server(
    server: String,
    scheme: &str,
    http: &reqwest::Client,
    token: &Option<String>,
) -> KnownServer {
    let client =
        RpcClient::with_token(&format!("{scheme}://{server}"), http.clone(), token.clone())
            .map_err(|e| format!("server {server} unusable: {e}"));
    (server, client)
}

impl RemoteRpc {
    /// `servers` are `host:port` RPC addresses; their calls share `http`'s pool.
    pub fn new(servers: Vec<String>, http: reqwest::Client) -> RemoteRpc {
        RemoteRpc::with_scheme(servers, http, "http")
    }

    /// [`RemoteRpc::new`] over HTTPS: `http` must present the node's certificate
    /// (`caravan_tls::outgoing::agent_client`).
    pub fn over_tls(servers: Vec<String>, http: reqwest::Client) -> RemoteRpc {
        RemoteRpc::with_scheme(servers, http, "https")
    }

    /// This client with its calls carrying an ACL token (with ACLs on, registering a
    /// node needs `node:write`).
    pub fn with_token(self, token: Option<String>) -> RemoteRpc {
        let servers = self
            .servers()
            .into_iter()
            .map(|server| known_server(server, self.scheme, &self.http, &token))
            .collect();
        RemoteRpc {
            servers: arc_swap::ArcSwap::from_pointee(servers),
            token,
            ..self
        }
    }

    fn with_scheme(servers: Vec<String>, http: reqwest::Client, scheme: &'static str) -> RemoteRpc {
        let servers = servers
            .into_iter()
            .map(|server| known_server(server, scheme, &http, &None))
            .collect();
        RemoteRpc {
            http,
            scheme,
            servers: arc_swap::ArcSwap::from_pointee(servers),
            current: AtomicUsize::new(0),
            token: None,
        }
    }

    /// The servers this client knows, in the order it tries them.
    pub fn servers(&self) -> Vec<String> {
        self.servers.load().iter().map(|(s, _)| s.clone()).collect()
    }

    /// Asks the servers for their peers now and then and adds the ones this client
    /// was not configured with (Nomad's clients keep their server list the same way),
    /// so that a cluster grown after the client started is used for failover.
    pub fn learn_peers(self: &std::sync::Arc<Self>) {
        let rpc = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PEERS_INTERVAL).await;
                let Some(rpc) = rpc.upgrade() else {
                    return;
                };
                if let Ok(peers) = rpc
                    .call(|client| async move { client.status_peers().await })
                    .await
                {
                    rpc.add_servers(peers);
                }
            }
        });
    }

    fn add_servers(&self, peers: Vec<String>) {
        let known = self.servers.load_full();
        let new: Vec<String> = peers
            .into_iter()
            .filter(|peer| !known.iter().any(|(s, _)| s == peer))
            .collect();
        if new.is_empty() {
            return;
        }
        tracing::info!(servers = ?new, "learned servers from the cluster's peers");
        let mut servers: Vec<KnownServer> = known
            .iter()
            .map(|(s, _)| known_server(s.clone(), self.scheme, &self.http, &self.token))
            .collect();
        servers.extend(
            new.into_iter()
                .map(|s| known_server(s, self.scheme, &self.http, &self.token)),
        );
        self.servers.store(std::sync::Arc::new(servers));
    }

    /// Sends one call to the current server, failing over to the others when one
    /// cannot be reached. An answer, even an error status, is final.
    /// Each attempt gets its own handle of the server's client (a cheap clone), so that
    /// the list may change while a call is under way.
    async fn call<T, F>(&self, call: impl Fn(RpcClient) -> F) -> Result<T, RpcError>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let servers = self.servers.load_full();
        let mut last = String::from("no servers configured");
        for attempt in 0..servers.len() {
            let which = (self.current.load(Ordering::Relaxed) + attempt) % servers.len();
            let (server, client) = &servers[which];
            let client = match client {
                Ok(client) => client,
                Err(unusable) => {
                    last = unusable.clone();
                    continue;
                }
            };
            match call(client.clone()).await {
                Ok(value) => {
                    self.current.store(which, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(error @ Error::Transport { .. }) => {
                    last = format!("server {server} unreachable: {error}");
                }
                // A server error without a kind is not the server's verdict on the
                // call (it has no leader, its leader is gone): another may serve it.
                Err(Error::Status {
                    code,
                    body,
                    kind: None,
                }) if code >= 500 => {
                    last = format!("server {server} answered {code}: {body}");
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
        let node = &node;
        let answer = self
            .call(|rpc| async move { rpc.register_node(node).await })
            .await?;
        Ok(ttl(answer))
    }

    async fn heartbeat(&self, node_id: &NodeId, secret_id: &str) -> Result<Duration, RpcError> {
        let request = HeartbeatRequest {
            node_id: node_id.clone(),
            secret_id: secret_id.to_string(),
        };
        let request = &request;
        let answer = self
            .call(|rpc| async move { rpc.heartbeat(request).await })
            .await?;
        Ok(ttl(answer))
    }

    async fn get_client_allocs(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        min_index: u64,
    ) -> Result<(NodeClientAllocsResponse, u64), RpcError> {
        let options = QueryOptions {
            index: min_index,
            wait: Some(LONG_POLL),
        };
        let read = self
            .call(|rpc| async move { rpc.node_client_allocs(node_id, secret_id, options).await })
            .await?;
        Ok(value_and_index(read, min_index))
    }

    async fn get_allocs(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        alloc_ids: Vec<AllocId>,
        min_index: u64,
    ) -> Result<Vec<Allocation>, RpcError> {
        let request = AllocsGetRequest {
            node_id: node_id.clone(),
            alloc_ids,
            min_query_index: min_index,
        };
        let request = &request;
        let answer = self
            .call(|rpc| async move { rpc.get_allocs::<Allocation>(secret_id, request).await })
            .await?;
        Ok(answer.allocs)
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
        let request = &request;
        self.call(|rpc| async move { rpc.update_allocations(secret_id, request).await })
            .await
            .map(drop)
    }

    async fn upsert_services(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        services: Vec<ServiceRegistration>,
    ) -> Result<(), RpcError> {
        let request = ServiceUpsertRequest {
            node_id: node_id.clone(),
            services,
        };
        let request = &request;
        self.call(|rpc| async move { rpc.upsert_services(secret_id, request).await })
            .await
            .map(drop)
    }

    async fn delete_alloc_services(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        alloc_ids: Vec<AllocId>,
    ) -> Result<(), RpcError> {
        let request = ServiceDeleteRequest {
            node_id: node_id.clone(),
            alloc_ids,
        };
        let request = &request;
        self.call(|rpc| async move { rpc.delete_services(secret_id, request).await })
            .await
            .map(drop)
    }

    async fn service_list(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        namespace: &str,
        min_index: u64,
    ) -> Result<(Vec<ServiceRegistrationListStub>, u64), RpcError> {
        let options = QueryOptions {
            index: min_index,
            wait: Some(LONG_POLL),
        };
        let read = self
            .call(|rpc| async move {
                rpc.node_services(node_id, secret_id, namespace, options)
                    .await
            })
            .await?;
        Ok(value_and_index(read, min_index))
    }

    async fn service_registrations(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        namespace: &str,
        name: &str,
        min_index: u64,
    ) -> Result<(Vec<ServiceRegistration>, u64), RpcError> {
        let options = QueryOptions {
            index: min_index,
            wait: Some(LONG_POLL),
        };
        let read = self
            .call(|rpc| async move {
                rpc.node_service(node_id, secret_id, namespace, name, options)
                    .await
            })
            .await?;
        Ok(value_and_index(read, min_index))
    }

    async fn workload_variable(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        workload: &Workload,
        path: &str,
        min_index: u64,
    ) -> Result<(Option<Variable>, u64), RpcError> {
        let options = QueryOptions {
            index: min_index,
            wait: Some(LONG_POLL),
        };
        let who = (workload.alloc_id.as_str(), workload.task.as_str());
        let read = self
            .call(|rpc| async move {
                rpc.node_variable(node_id, secret_id, who, path, options)
                    .await
            })
            .await?;
        Ok(value_and_index(read, min_index))
    }

    async fn workload_variable_list(
        &self,
        node_id: &NodeId,
        secret_id: &str,
        workload: &Workload,
        prefix: &str,
        min_index: u64,
    ) -> Result<(Vec<VariableMetadata>, u64), RpcError> {
        let options = QueryOptions {
            index: min_index,
            wait: Some(LONG_POLL),
        };
        let who = (workload.alloc_id.as_str(), workload.task.as_str());
        let read = self
            .call(|rpc| async move {
                rpc.node_variables(node_id, secret_id, who, prefix, options)
                    .await
            })
            .await?;
        Ok(value_and_index(read, min_index))
    }
}

/// A blocking read's answer and the index to wait past next: the server's, or the one
/// asked for when the answer carries none.
fn value_and_index<T>(read: caravan_api_client::Indexed<T>, min_index: u64) -> (T, u64) {
    let index = if read.index == 0 {
        min_index
    } else {
        read.index
    };
    (read.value, index)
}
