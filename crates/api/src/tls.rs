//! TLS as the API sees it: which scheme each listener of another agent speaks, the
//! client for calls to client agents, and the role checks on the RPC and serf ports.
//!
//! The listeners themselves (HTTPS, mutual TLS) are `caravan-tls`'s; they put the
//! peer's certificate names on each request as a [`PeerIdentity`] extension, and
//! [`require_peer`] checks them: with `tls { rpc = true }` a node's calls need a client
//! (or server) certificate of the region, and with `verify_server_hostname` Raft's
//! messages and joins need a server's. The CA has already vouched for the certificate
//! in the handshake; this is about what it may do.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use caravan_tls::{PeerIdentity, Role};

use crate::{AgentState, ApiError};

/// The agent's `tls` block, as its HTTP handlers need it. The default is plaintext
/// everywhere.
#[derive(Debug, Clone, Default)]
pub struct AgentTls {
    /// `tls.http`: agents' HTTP ports speak HTTPS.
    pub http: bool,
    /// `tls.rpc`: servers' RPC and serf ports speak mutual TLS.
    pub rpc: bool,
    /// `tls.verify_server_hostname`: only `server.<region>.nomad` may send Raft's
    /// messages and joins (and dialled servers must be it).
    pub verify_server_hostname: bool,
    /// `tls.rpc_upgrade_mode`: plaintext is served too while a cluster moves to TLS;
    /// its calls carry no identity and pass the role checks.
    pub rpc_upgrade_mode: bool,
    /// For calls to client agents' HTTP ports (their certificates are not servers');
    /// `None`: [`AgentState::http`].
    pub clients_http: Option<reqwest::Client>,
    /// The same TLS for websockets to client agents (`alloc exec` relayed).
    pub clients_tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
}

impl AgentTls {
    /// `scheme://address` of another agent's HTTP port.
    pub fn http_url(&self, address: &str) -> String {
        with_scheme(self.http, address)
    }

    /// `scheme://address` of a server's RPC or serf port.
    pub fn rpc_url(&self, address: &str) -> String {
        with_scheme(self.rpc, address)
    }
}

fn with_scheme(tls: bool, address: &str) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{address}")
}

impl AgentState {
    /// The client for calls to client agents' HTTP ports.
    pub(crate) fn clients_http(&self) -> &reqwest::Client {
        self.tls.clients_http.as_ref().unwrap_or(&self.http)
    }
}

/// Who may call the routes a [`require_peer`] layer guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerRole {
    /// Raft's messages and membership: a server of the region.
    Server,
    /// A node's RPCs (registration, heartbeats, its allocations, forwarded API calls):
    /// a client or a server of the region.
    Node,
}

impl PeerRole {
    fn required(self, tls: &AgentTls) -> bool {
        match self {
            PeerRole::Server => tls.rpc && tls.verify_server_hostname,
            PeerRole::Node => tls.rpc,
        }
    }

    fn allows(self, peer: &PeerIdentity, region: &str) -> bool {
        match self {
            PeerRole::Server => peer.is(Role::Server, region),
            PeerRole::Node => peer.is(Role::Client, region) || peer.is(Role::Server, region),
        }
    }

    fn wanted(self, region: &str) -> String {
        match self {
            PeerRole::Server => format!("a server certificate ({})", Role::Server.name_in(region)),
            PeerRole::Node => format!(
                "a client certificate ({}) or a server's ({})",
                Role::Client.name_in(region),
                Role::Server.name_in(region)
            ),
        }
    }
}

/// A layer for the routes only `role` may call: refuses (403, kind
/// `permission-denied`) a caller whose certificate is not of that role.
pub(crate) async fn require_peer(
    State((state, role)): State<(Arc<AgentState>, PeerRole)>,
    request: Request,
    next: Next,
) -> Response {
    if !role.required(&state.tls) {
        return next.run(request).await;
    }
    let region = &state.info.region;
    let refusal = match request.extensions().get::<PeerIdentity>() {
        Some(peer) if role.allows(peer, region) => return next.run(request).await,
        None if state.tls.rpc_upgrade_mode => return next.run(request).await,
        Some(peer) => format!(
            "Permission denied: this call needs {}; the certificate presented names {}",
            role.wanted(region),
            peer.describe()
        ),
        None => format!(
            "Permission denied: this call needs {} signed by the cluster's CA",
            role.wanted(region)
        ),
    };
    tracing::warn!(path = request.uri().path(), "{refusal}");
    ApiError {
        kind: Some(crate::rpc::ERROR_PERMISSION_DENIED),
        ..ApiError::new(StatusCode::FORBIDDEN, refusal)
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(names: &[&str]) -> PeerIdentity {
        PeerIdentity {
            dns_names: names.iter().map(|n| n.to_string()).collect(),
            ..PeerIdentity::default()
        }
    }

    #[test]
    fn roles_allow_the_certificates_of_their_region() {
        let server = peer(&["server.global.nomad", "localhost"]);
        let client = peer(&["client.global.nomad", "localhost"]);
        let cli = peer(&["cli.global.nomad", "localhost"]);
        let other_region = peer(&["server.eu.nomad"]);
        let cases = [
            (PeerRole::Server, &server, true),
            (PeerRole::Server, &client, false),
            (PeerRole::Server, &cli, false),
            (PeerRole::Server, &other_region, false),
            (PeerRole::Node, &server, true),
            (PeerRole::Node, &client, true),
            (PeerRole::Node, &cli, false),
            (PeerRole::Node, &other_region, false),
        ];
        for (role, peer, allowed) in cases {
            assert_eq!(role.allows(peer, "global"), allowed, "{role:?} {peer:?}");
        }
    }

    #[test]
    fn checks_apply_as_the_tls_block_says() {
        let plain = AgentTls::default();
        let rpc = AgentTls {
            rpc: true,
            ..AgentTls::default()
        };
        let strict = AgentTls {
            rpc: true,
            verify_server_hostname: true,
            ..AgentTls::default()
        };
        assert!(!PeerRole::Node.required(&plain));
        assert!(PeerRole::Node.required(&rpc));
        assert!(!PeerRole::Server.required(&rpc));
        assert!(PeerRole::Server.required(&strict));
        assert_eq!(strict.rpc_url("h:1"), "https://h:1");
        assert_eq!(strict.http_url("h:1"), "http://h:1");
    }
}
