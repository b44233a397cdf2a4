//! The agent's `tls` block put to work: its identity (CA, certificate, key) read at
//! start and on SIGHUP, how each listener speaks (HTTPS on the HTTP port, mutual TLS on
//! the RPC and serf ports), and the outgoing clients that present the agent's
//! certificate and check the peer's role (`server.<region>.nomad` with
//! `verify_server_hostname`).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use caravan_api::AgentTls;
use caravan_jobspec::agent_config::AgentConfig;
use caravan_raft::transport::PeerClient;
use caravan_tls::outgoing::{PeerCheck, agent_client, agent_client_config};
use caravan_tls::{AgentIdentity, ClientAuth, ListenerTls, MinVersion, Role, TlsFiles};

/// The agent's TLS, as its configuration asks for it.
pub(crate) struct TlsSetup {
    /// `None`: neither `tls.http` nor `tls.rpc` is on.
    identity: Option<Arc<AgentIdentity>>,
    http: bool,
    rpc: bool,
    verify_server_hostname: bool,
    verify_https_client: bool,
    rpc_upgrade_mode: bool,
    region: String,
}

fn required(value: &Option<String>, key: &str) -> Result<PathBuf, String> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            format!(
                "tls.{key} is required when tls.http or tls.rpc is true; create a CA and certificates with `caravan tls ca create` and `caravan tls cert create -server` (or -client)"
            )
        })
}

impl TlsSetup {
    /// Reads the files of the `tls` block when it turns TLS on, and checks that the
    /// agent's certificate is one of its role: a server's must name
    /// `server.<region>.nomad` (with `verify_server_hostname`, no other server would
    /// talk to it), a client's `client.<region>.nomad` (or a server's) for the servers
    /// to take its node RPCs.
    pub(crate) fn from_config(
        config: &AgentConfig,
        region: &str,
        server_enabled: bool,
    ) -> Result<TlsSetup, String> {
        let tls = &config.tls;
        let mut setup = TlsSetup {
            identity: None,
            http: tls.http == Some(true),
            rpc: tls.rpc == Some(true),
            verify_server_hostname: tls.verify_server_hostname == Some(true),
            verify_https_client: tls.verify_https_client == Some(true),
            rpc_upgrade_mode: tls.rpc_upgrade_mode == Some(true),
            region: region.to_string(),
        };
        if !tls.enabled() {
            return Ok(setup);
        }
        let files = TlsFiles {
            ca_file: required(&tls.ca_file, "ca_file")?,
            cert_file: required(&tls.cert_file, "cert_file")?,
            key_file: required(&tls.key_file, "key_file")?,
        };
        let min_version = match tls.tls_min_version.as_deref() {
            Some("tls13") => MinVersion::Tls13,
            _ => MinVersion::Tls12,
        };
        let identity = AgentIdentity::load(files, min_version)?;
        if setup.rpc {
            let names = identity.own_names();
            let cert_file = identity.files().cert_file.display().to_string();
            if server_enabled && setup.verify_server_hostname && !names.is(Role::Server, region) {
                return Err(format!(
                    "tls.cert_file \"{cert_file}\" names {} but a server's certificate must name {} with verify_server_hostname = true; create one with `caravan tls cert create -server -region {region}`",
                    names.describe(),
                    Role::Server.name_in(region)
                ));
            }
            if !server_enabled && !names.is(Role::Client, region) && !names.is(Role::Server, region)
            {
                return Err(format!(
                    "tls.cert_file \"{cert_file}\" names {} but the servers take node RPCs only from a certificate naming {}; create one with `caravan tls cert create -client -region {region}`",
                    names.describe(),
                    Role::Client.name_in(region)
                ));
            }
        }
        setup.identity = Some(identity);
        Ok(setup)
    }

    /// How the HTTP port speaks.
    pub(crate) fn http_listener(&self) -> Option<ListenerTls> {
        let identity = self.identity.clone().filter(|_| self.http)?;
        Some(ListenerTls {
            identity,
            client_auth: if self.verify_https_client {
                ClientAuth::Required
            } else {
                ClientAuth::None
            },
            accept_plaintext: false,
        })
    }

    /// How the RPC and serf ports speak.
    pub(crate) fn rpc_listener(&self) -> Option<ListenerTls> {
        let identity = self.identity.clone().filter(|_| self.rpc)?;
        Some(ListenerTls {
            identity,
            client_auth: ClientAuth::Required,
            accept_plaintext: self.rpc_upgrade_mode,
        })
    }

    fn check(&self, roles: &[Role]) -> PeerCheck {
        if self.verify_server_hostname {
            PeerCheck::Named(roles.iter().map(|r| r.name_in(&self.region)).collect())
        } else {
            PeerCheck::AnyFromCa
        }
    }

    /// The client for calls to servers (RPC, forwarding to the leader), from
    /// `builder`'s settings.
    pub(crate) fn servers_http(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, String> {
        match &self.identity {
            Some(identity) => agent_client(identity, &self.check(&[Role::Server]), builder),
            None => builder
                .build()
                .map_err(|e| format!("Error creating the HTTP client: {e}")),
        }
    }

    /// How this server calls the others (Raft, joins, membership).
    pub(crate) fn peer_client(&self) -> Result<PeerClient, String> {
        match self.identity.as_ref().filter(|_| self.rpc) {
            Some(identity) => Ok(PeerClient::over_tls(agent_client(
                identity,
                &self.check(&[Role::Server]),
                PeerClient::http_builder(),
            )?)),
            None => Ok(PeerClient::new()),
        }
    }

    /// What the API needs: schemes, the client for client agents, the role checks.
    pub(crate) fn api(&self, builder: reqwest::ClientBuilder) -> Result<AgentTls, String> {
        let check = self.check(&[Role::Client, Role::Server]);
        let (clients_http, clients_tls) = match &self.identity {
            Some(identity) => (
                Some(agent_client(identity, &check, builder)?),
                Some(Arc::new(agent_client_config(identity, &check)?)),
            ),
            None => (None, None),
        };
        Ok(AgentTls {
            http: self.http,
            rpc: self.rpc,
            verify_server_hostname: self.verify_server_hostname,
            rpc_upgrade_mode: self.rpc_upgrade_mode,
            clients_http,
            clients_tls,
        })
    }

    /// Whether the servers' RPC ports speak TLS.
    pub(crate) fn rpc(&self) -> bool {
        self.rpc
    }

    /// The identity SIGHUP reloads.
    pub(crate) fn identity(&self) -> Option<Arc<AgentIdentity>> {
        self.identity.clone()
    }

    /// What the start banner warns about: an RPC port anyone can register a node on.
    pub(crate) fn warnings(&self, rpc_address: &str, acl_enabled: bool) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.rpc && !acl_enabled {
            warnings.push(format!(
                "==> WARNING: Neither ACLs nor TLS on RPC are enabled: anyone who can reach the RPC port ({rpc_address}) can register a node and be given workloads. Enable acl {{ enabled = true }} or tls {{ rpc = true }} (certificates from `caravan tls ca create` and `caravan tls cert create`) before exposing this agent."
            ));
        }
        if self.rpc && self.rpc_upgrade_mode {
            warnings.push(
                "==> WARNING: tls.rpc_upgrade_mode is on: the RPC and serf ports also take plaintext, unauthenticated connections. Remove it once every agent speaks TLS.".into(),
            );
        }
        warnings
    }
}

/// Reads the certificate files again on every SIGHUP; new connections use them, and a
/// failed reload keeps the ones in use.
pub(crate) async fn reload_on_sighup(identity: Option<Arc<AgentIdentity>>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangups.recv().await.is_some() {
        let Some(identity) = &identity else {
            tracing::info!("caught SIGHUP: no TLS certificates to reload");
            continue;
        };
        let reloading = identity.clone();
        match tokio::task::spawn_blocking(move || reloading.reload()).await {
            Ok(Ok(())) => tracing::info!("caught SIGHUP: reloaded the TLS certificates"),
            Ok(Err(error)) => tracing::error!(
                "caught SIGHUP: reloading the TLS certificates failed, the ones in use stay: {error}"
            ),
            Err(error) => tracing::error!("caught SIGHUP: reloading failed: {error}"),
        }
    }
}

/// Serves the HTTP API until `stopping` completes: axum's own server in plaintext,
/// `caravan-tls`'s accept loop with TLS.
pub(crate) async fn serve_http_api(
    listener: caravan_api::conn_limit::LimitedListener,
    tls: Option<ListenerTls>,
    app: axum::Router,
    stopping: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let Some(tls) = tls else {
        // Not the router itself: see `serve_until_stopped`.
        return axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(stopping)
            .await
            .map_err(|e| format!("HTTP server failed: {e}"));
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stopping.await;
        let _ = stop.send(true);
    });
    caravan_tls::serve(listener, Some(tls), app, stopped).await;
    Ok(())
}
