//! The agent configuration's `tls` block: HTTPS on the HTTP port, mutual TLS on the RPC
//! and serf ports, and the CA, certificate and key files.

use super::{pick, value_pos};
use crate::ast::Body;
use crate::error::ParseError;

/// The `tls` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsBlock {
    pub http: Option<bool>,
    pub rpc: Option<bool>,
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub verify_server_hostname: Option<bool>,
    pub verify_https_client: Option<bool>,
    pub rpc_upgrade_mode: Option<bool>,
    /// `tls12` or `tls13`.
    pub tls_min_version: Option<String>,
}

const TLS_KEYS: &[&str] = &[
    "http",
    "rpc",
    "ca_file",
    "cert_file",
    "key_file",
    "verify_server_hostname",
    "verify_https_client",
    "rpc_upgrade_mode",
    "tls_min_version",
    "tls_cipher_suites",
];

/// Accepted and ignored: rustls always picks the cipher suite by the server's order.
const IGNORED_TLS_KEYS: &[&str] = &["tls_prefer_server_cipher_suites"];

/// Reads the `tls` block.
pub(super) fn decode_tls(tls: &Body) -> Result<TlsBlock, ParseError> {
    tls.check_keys("tls", TLS_KEYS, IGNORED_TLS_KEYS)?;
    if tls.get("tls_cipher_suites").is_some() {
        return Err(tls.error_at(
            value_pos(tls, "tls_cipher_suites"),
            "\"tls_cipher_suites\" is not supported by Caravan: it uses rustls' modern suites \
             (AES-GCM and ChaCha20-Poly1305 with ECDHE); remove the key",
        ));
    }
    let tls_min_version = match tls.string("tls_min_version")? {
        None => None,
        Some(version) => match version.as_str() {
            "" | "tls12" | "tls13" => Some(version),
            "tls10" | "tls11" => {
                return Err(tls.error_at(
                    value_pos(tls, "tls_min_version"),
                    format!(
                        "\"tls_min_version\" \"{version}\" is not supported: Caravan speaks TLS 1.2 and 1.3 only; use \"tls12\" or \"tls13\""
                    ),
                ));
            }
            other => {
                return Err(tls.error_at(
                    value_pos(tls, "tls_min_version"),
                    format!("\"tls_min_version\" must be \"tls12\" or \"tls13\", got \"{other}\""),
                ));
            }
        },
    };
    Ok(TlsBlock {
        http: tls.bool("http")?,
        rpc: tls.bool("rpc")?,
        ca_file: tls.string("ca_file")?,
        cert_file: tls.string("cert_file")?,
        key_file: tls.string("key_file")?,
        verify_server_hostname: tls.bool("verify_server_hostname")?,
        verify_https_client: tls.bool("verify_https_client")?,
        rpc_upgrade_mode: tls.bool("rpc_upgrade_mode")?,
        tls_min_version: tls_min_version.filter(|v| !v.is_empty()),
    })
}

impl TlsBlock {
    /// Merges `later` over `self`, key by key.
    pub(super) fn merge(self, later: TlsBlock) -> TlsBlock {
        TlsBlock {
            http: pick(later.http, self.http),
            rpc: pick(later.rpc, self.rpc),
            ca_file: pick(later.ca_file, self.ca_file),
            cert_file: pick(later.cert_file, self.cert_file),
            key_file: pick(later.key_file, self.key_file),
            verify_server_hostname: pick(later.verify_server_hostname, self.verify_server_hostname),
            verify_https_client: pick(later.verify_https_client, self.verify_https_client),
            rpc_upgrade_mode: pick(later.rpc_upgrade_mode, self.rpc_upgrade_mode),
            tls_min_version: pick(later.tls_min_version, self.tls_min_version),
        }
    }

    /// Whether any listener speaks TLS.
    pub fn enabled(&self) -> bool {
        self.http == Some(true) || self.rpc == Some(true)
    }
}
