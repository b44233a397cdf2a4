//! TLS for Caravan's agents and CLI, with Nomad's semantics (the agent's `tls` block, the
//! CLI's `-ca-cert`/`-client-cert`/`-client-key` flags, `tls ca|cert create`).
//!
//! - [`AgentIdentity`]: the CA, certificate and key an agent's `tls` block names, read
//!   from their files at start and again on SIGHUP ([`AgentIdentity::reload`]). Every
//!   listener and outgoing client reads the current one for each new connection, so a
//!   reload needs no restart and never drops a connection.
//! - [`serve`]: an accept loop for one listener: plaintext, HTTPS, or mutual TLS (the
//!   peer must present a certificate from the CA). Each request carries the peer's
//!   certificate names as a [`PeerIdentity`] extension, which the API checks roles
//!   against (`server.<region>.nomad` for Raft and membership, a client or server
//!   certificate for node RPCs).
//! - [`outgoing`]: reqwest clients that present the agent's certificate and verify the
//!   peer against the CA, by a role name (`server.<region>.nomad`, Nomad's
//!   `verify_server_hostname`) rather than the dialled IP; and the CLI's client.
//! - [`certgen`]: CA and role certificates with rcgen, as `nomad tls` makes them.
//!
//! Cryptography is rustls on the ring provider only (no aws-lc-rs).

pub mod certgen;
mod files;
mod identity;
mod listener;
pub mod names;
pub mod outgoing;
mod peer;
mod verifier;

use std::sync::Arc;

pub use files::TlsFiles;
pub use identity::{AgentIdentity, MinVersion};
pub use listener::{ClientAuth, Connection, ListenerTls, serve};
pub use names::Role;
pub use peer::PeerIdentity;

/// The one cryptography provider Caravan uses: rustls' ring provider.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process's default rustls provider, for any rustls user that asks for
/// the default (reqwest's own TLS, when no configuration is handed to it). Calling it
/// again does nothing.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
