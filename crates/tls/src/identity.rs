//! An agent's TLS identity: its CA, certificate and key, and the rustls configurations
//! built from them. Swapped whole on reload, so each new connection sees either the old
//! files or the new ones, never a mix.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::WebPkiServerVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::PeerIdentity;
use crate::files::{TlsFiles, certified_key, roots};

/// `tls_min_version`: the oldest TLS version the agent speaks. rustls has no TLS 1.0 or
/// 1.1, so `tls12` is the default and the lowest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MinVersion {
    #[default]
    Tls12,
    Tls13,
}

impl MinVersion {
    pub(crate) fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static BOTH: &[&SupportedProtocolVersion] =
            &[&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
        match self {
            MinVersion::Tls12 => BOTH,
            MinVersion::Tls13 => TLS13_ONLY,
        }
    }
}

/// What one reading of the files gives.
pub(crate) struct Material {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) server_verifier: Arc<WebPkiServerVerifier>,
    /// For listeners that require a certificate from the CA (RPC, serf, HTTPS with
    /// `verify_https_client`).
    pub(crate) mutual: Arc<ServerConfig>,
    /// For listeners that ask for none (HTTPS).
    pub(crate) one_way: Arc<ServerConfig>,
}

/// The agent's CA, certificate and key (see the crate's documentation).
pub struct AgentIdentity {
    files: TlsFiles,
    min_version: MinVersion,
    current: ArcSwap<Material>,
}

impl std::fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentIdentity")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// Serves the one certificate of a configuration (rebuilt on every reload).
#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn server_config(
    key: &Arc<CertifiedKey>,
    min_version: MinVersion,
    client_verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<Arc<ServerConfig>, String> {
    let builder = ServerConfig::builder_with_provider(crate::provider())
        .with_protocol_versions(min_version.versions())
        .map_err(|e| format!("TLS settings: {e}"))?;
    let builder = match client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(FixedCert(key.clone())));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load(files: &TlsFiles, min_version: MinVersion) -> Result<Material, String> {
    let roots: Arc<RootCertStore> = roots(&files.ca_file, "tls.ca_file")?;
    let key = certified_key(
        &files.cert_file,
        &files.key_file,
        ("tls.cert_file", "tls.key_file"),
    )?;
    let server_verifier =
        WebPkiServerVerifier::builder_with_provider(roots.clone(), crate::provider())
            .build()
            .map_err(|e| format!("tls.ca_file \"{}\": {e}", files.ca_file.display()))?;
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(roots.clone(), crate::provider())
            .build()
            .map_err(|e| format!("tls.ca_file \"{}\": {e}", files.ca_file.display()))?;
    Ok(Material {
        mutual: server_config(&key, min_version, Some(client_verifier))?,
        one_way: server_config(&key, min_version, None)?,
        key,
        server_verifier,
    })
}

impl AgentIdentity {
    /// Reads the files; an error names the setting and file at fault.
    pub fn load(files: TlsFiles, min_version: MinVersion) -> Result<Arc<AgentIdentity>, String> {
        let material = load(&files, min_version)?;
        Ok(Arc::new(AgentIdentity {
            files,
            min_version,
            current: ArcSwap::from_pointee(material),
        }))
    }

    /// Reads the files again (SIGHUP). New connections use what they hold from now on;
    /// on an error the identity in use stays as it was.
    pub fn reload(&self) -> Result<(), String> {
        let material = load(&self.files, self.min_version)?;
        self.current.store(Arc::new(material));
        Ok(())
    }

    /// The files this identity is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The oldest TLS version spoken.
    pub fn min_version(&self) -> MinVersion {
        self.min_version
    }

    /// The names in the agent's own certificate.
    pub fn own_names(&self) -> PeerIdentity {
        let material = self.material();
        material
            .key
            .cert
            .first()
            .map(|cert| PeerIdentity::from_der(cert.as_ref()))
            .unwrap_or_default()
    }

    pub(crate) fn material(&self) -> Arc<Material> {
        self.current.load_full()
    }
}
