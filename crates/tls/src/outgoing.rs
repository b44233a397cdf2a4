//! reqwest clients that speak TLS the way the agent's `tls` block or the CLI's flags
//! say: presenting a certificate, and checking the peer's against the CA and, where
//! asked, a role's name.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;

use crate::AgentIdentity;
use crate::files::{certified_key, roots};
use crate::verifier::{Expect, PeerVerifier, Roots, SkipVerify};

/// What an agent's outgoing connection requires of the peer's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCheck {
    /// Signed by the CA (`verify_server_hostname = false`).
    AnyFromCa,
    /// Signed by the CA and naming one of these (`server.<region>.nomad`), whatever
    /// address was dialled.
    Named(Vec<String>),
}

/// Presents the agent's current certificate (read again on reload) when a peer asks.
#[derive(Debug)]
struct AgentCert(Arc<AgentIdentity>);

impl ResolvesClientCert for AgentCert {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.material().key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Presents one certificate read at start (the CLI's `-client-cert`).
#[derive(Debug)]
struct FixedClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedClientCert {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn names(names: &[String]) -> Result<Vec<ServerName<'static>>, String> {
    names
        .iter()
        .map(|name| {
            ServerName::try_from(name.clone())
                .map_err(|e| format!("\"{name}\" is not a valid server name: {e}"))
        })
        .collect()
}

/// The rustls configuration of an agent's outgoing connections.
pub fn agent_client_config(
    identity: &Arc<AgentIdentity>,
    check: &PeerCheck,
) -> Result<ClientConfig, String> {
    let expect = match check {
        PeerCheck::AnyFromCa => Expect::AnyFromCa,
        PeerCheck::Named(list) => Expect::OneOf(names(list)?),
    };
    let verifier = PeerVerifier {
        roots: Roots::Agent(identity.clone()),
        expect,
    };
    let config = ClientConfig::builder_with_provider(crate::provider())
        .with_protocol_versions(identity.min_version().versions())
        .map_err(|e| format!("TLS settings: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(AgentCert(identity.clone())));
    Ok(config)
}

/// `builder` (its timeouts and pool settings) completed with the agent's TLS: it
/// presents the agent's certificate and checks peers as `check` says. `http://` URLs
/// still go out in plaintext; the caller picks the scheme.
pub fn agent_client(
    identity: &Arc<AgentIdentity>,
    check: &PeerCheck,
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::Client, String> {
    builder
        .use_preconfigured_tls(agent_client_config(identity, check)?)
        .build()
        .map_err(|e| format!("creating the TLS HTTP client: {e}"))
}

/// The CLI's TLS settings: `-ca-cert`, `-client-cert`, `-client-key`,
/// `-tls-skip-verify`, `-tls-server-name` (or their `NOMAD_*` variables).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliTls {
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub skip_verify: bool,
    pub server_name: Option<String>,
}

impl CliTls {
    /// Whether any TLS setting is given (otherwise reqwest's defaults serve).
    pub fn is_set(&self) -> bool {
        self.ca_cert.is_some()
            || self.client_cert.is_some()
            || self.client_key.is_some()
            || self.skip_verify
            || self.server_name.is_some()
    }
}

/// `builder` completed with the CLI's TLS settings.
pub fn cli_client(
    tls: &CliTls,
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::Client, String> {
    match cli_client_config(tls)? {
        None => builder
            .build()
            .map_err(|e| format!("creating the HTTP client: {e}")),
        Some(config) => builder
            .use_preconfigured_tls(config)
            .build()
            .map_err(|e| format!("creating the TLS HTTP client: {e}")),
    }
}

/// The rustls configuration of the CLI's TLS settings; `None` when none is given.
pub fn cli_client_config(tls: &CliTls) -> Result<Option<ClientConfig>, String> {
    if !tls.is_set() {
        return Ok(None);
    }
    let provider = crate::provider();
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = if tls.skip_verify {
        Arc::new(SkipVerify(provider.clone()))
    } else {
        let Some(ca_cert) = &tls.ca_cert else {
            return Err(
                "TLS settings need a CA to verify the agent's certificate: set -ca-cert (or NOMAD_CACERT), or -tls-skip-verify"
                    .into(),
            );
        };
        let roots = roots(ca_cert, "-ca-cert")?;
        let inner =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("-ca-cert \"{}\": {e}", ca_cert.display()))?;
        let expect = match &tls.server_name {
            Some(name) => Expect::OneOf(names(std::slice::from_ref(name))?),
            None => Expect::DialledName,
        };
        Arc::new(PeerVerifier {
            roots: Roots::Fixed(inner),
            expect,
        })
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS settings: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => config.with_client_cert_resolver(Arc::new(FixedClientCert(
            certified_key(cert, key, ("-client-cert", "-client-key"))?,
        ))),
        (None, None) => config.with_no_client_auth(),
        (Some(_), None) => {
            return Err("-client-cert needs its key: set -client-key (or NOMAD_CLIENT_KEY)".into());
        }
        (None, Some(_)) => {
            return Err(
                "-client-key needs its certificate: set -client-cert (or NOMAD_CLIENT_CERT)".into(),
            );
        }
    };
    Ok(Some(config))
}
