//! How an outgoing connection checks the certificate of the agent it dialled.
//!
//! Agents are dialled by IP address, and their certificates name a role
//! (`server.<region>.nomad`), not an address; so a peer's certificate is checked
//! against the CA and then, with `verify_server_hostname`, against the role's name
//! instead of the address dialled. Without it, the chain alone is checked (Nomad's
//! behaviour), so any certificate from the CA passes.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

use crate::AgentIdentity;

/// The names an outgoing connection accepts in the peer's certificate.
#[derive(Debug, Clone)]
pub(crate) enum Expect {
    /// Any certificate the CA signed (chain only).
    AnyFromCa,
    /// The address dialled, as usual for HTTPS (the CLI).
    DialledName,
    /// One of these names, whatever address was dialled.
    OneOf(Vec<ServerName<'static>>),
}

/// Where the CA's verifier comes from: the agent's identity (swapped on reload), or a
/// CA file read once (the CLI).
#[derive(Debug, Clone)]
pub(crate) enum Roots {
    Agent(Arc<AgentIdentity>),
    Fixed(Arc<rustls::client::WebPkiServerVerifier>),
}

#[derive(Debug)]
pub(crate) struct PeerVerifier {
    pub(crate) roots: Roots,
    pub(crate) expect: Expect,
}

impl PeerVerifier {
    fn inner(&self) -> Arc<rustls::client::WebPkiServerVerifier> {
        match &self.roots {
            Roots::Agent(identity) => identity.material().server_verifier.clone(),
            Roots::Fixed(verifier) => verifier.clone(),
        }
    }
}

fn wrong_name(error: &Error) -> bool {
    matches!(
        error,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let inner = self.inner();
        match &self.expect {
            Expect::DialledName => {
                inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            // rustls checks the chain before the name: a name error means the chain
            // is good.
            Expect::AnyFromCa => match inner.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(error) if wrong_name(&error) => Ok(ServerCertVerified::assertion()),
                other => other,
            },
            Expect::OneOf(names) => {
                let mut last = Error::General("no name to verify the peer against".into());
                for name in names {
                    match inner.verify_server_cert(
                        end_entity,
                        intermediates,
                        name,
                        ocsp_response,
                        now,
                    ) {
                        Ok(verified) => return Ok(verified),
                        Err(error) => last = error,
                    }
                }
                Err(last)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner().supported_verify_schemes()
    }
}

/// `-tls-skip-verify`: any certificate, as long as the handshake's signatures hold.
#[derive(Debug)]
pub(crate) struct SkipVerify(pub(crate) Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
