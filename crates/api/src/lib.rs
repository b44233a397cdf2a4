//! The HTTP API: Nomad's `/v1` routes, JSON shapes, error bodies and blocking queries.
//!
//! Handlers are thin: each takes a [`RequestContext`] (namespace, token, query options)
//! and its body, calls the server or the client, and renders the answer. What every
//! request shares (tracing, panics, the body limit, the query-meta headers) is a tower
//! layer ([`layers`]); there is one router per listener ([`router`], [`rpc_router`]).
//! Errors are plain-text bodies with a status code, as Nomad sends them
//! (`job not found`). Reads answer with `X-Nomad-Index` and honour `?index=N&wait=D`
//! blocking queries.

mod acl;
mod acl_endpoints;
mod agent;
mod alloc_actions;
mod alloc_exec;
mod alloc_signal;
mod allocs;
mod blocking;
mod client_node;
mod cluster;
pub mod conn_limit;
mod context;
mod deployments;
mod error;
mod evals;
mod events;
mod filter;
mod fs;
mod job_path;
mod jobs;
mod layers;
pub mod metrics;
mod monitor;
mod nodes;
mod paginate;
pub mod parse;
mod proxy;
mod routes;
mod rpc;
mod scaling;
mod search;
mod services;
mod stats;
mod system;
mod tls;
mod ui;
mod variables;

use std::sync::Arc;

use axum::http::StatusCode;
use caravan_client::Client;
use caravan_server::Server;
use caravan_structs::AllocId;

pub use acl::{AclSettings, Need, TokenCache, need};
pub use agent::AgentInfo;
/// The names of the certificate a caller presented, on every request of a TLS
/// connection that had one (see [`AgentTls`]).
pub use caravan_tls::PeerIdentity;
pub use cluster::serf_router;
pub use context::{AuthToken, QueryOptions, RequestContext};
pub use error::{ApiError, ERROR_KIND_HEADER};
pub use routes::{router, rpc_router};
pub use rpc::{LONG_POLL, LocalRpc, RemoteRpc};
pub use tls::AgentTls;

/// What the HTTP handlers reach: the server and/or client halves of this agent.
pub struct AgentState {
    pub server: Option<Arc<Server>>,
    /// The server's Raft, for forwarding to the leader and the cluster endpoints
    /// (`None`: a client-only agent, or a server in a test without one).
    pub raft: Option<Arc<caravan_raft::RaftNode>>,
    pub client: Option<Arc<Client>>,
    pub info: AgentInfo,
    /// For forwarding: to clients (`fs`), or from a client-only agent to its servers.
    pub http: reqwest::Client,
    /// The servers' RPC addresses a client-only agent forwards API calls to.
    pub servers: Vec<String>,
    /// The `telemetry` block and its latest samples.
    pub telemetry: Option<Arc<metrics::Telemetry>>,
    /// Runs `/v1/jobs/parse` in a process of its own; `None` parses on a blocking thread.
    pub job_parser: Option<parse::JobParser>,
    /// The `acl {}` block.
    pub acl: AclSettings,
    /// A client-only agent's resolved tokens.
    pub tokens: TokenCache,
    /// The `tls` block: schemes, the client for client agents, the role checks.
    pub tls: AgentTls,
    /// The agent's live log subscribers (`/v1/agent/monitor`).
    pub monitors: caravan_log::Monitors,
}

impl AgentState {
    fn server(&self) -> Result<&Arc<Server>, ApiError> {
        self.server
            .as_ref()
            .ok_or_else(|| ApiError::new(StatusCode::NOT_IMPLEMENTED, "this agent runs no server"))
    }

    /// The full ID of allocation `alloc_id` (an ID, or a prefix of exactly one) when this
    /// agent's client runs it.
    fn local_alloc_id(&self, alloc_id: &str) -> Option<AllocId> {
        let client = self.client.as_ref()?;
        match client.allocation(alloc_id) {
            Some(alloc) => Some(alloc.id),
            None => match client.allocations_by_prefix(alloc_id).as_slice() {
                [alloc] => Some(alloc.id.clone()),
                _ => None,
            },
        }
    }
}
