//! Reading PEM files: a CA bundle, a certificate chain and its private key. Every error
//! names the setting and the file and says what is wrong with it, since this is what an
//! operator sees when an agent refuses to start or to reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// The files of an agent's `tls` block (`ca_file`, `cert_file`, `key_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

fn read(path: &Path, setting: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| {
        format!(
            "{setting} \"{}\" cannot be read: {e}; point it at a PEM file the agent can read",
            path.display()
        )
    })
}

/// The certificates of a PEM file (a CA bundle or a certificate chain).
pub(crate) fn certificates(
    path: &Path,
    setting: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path, setting)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{setting} \"{}\" is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{setting} \"{}\" holds no certificate (expected a \"-----BEGIN CERTIFICATE-----\" block)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The trust roots of a CA file.
pub(crate) fn roots(path: &Path, setting: &str) -> Result<Arc<RootCertStore>, String> {
    let mut store = RootCertStore::empty();
    for cert in certificates(path, setting)? {
        store.add(cert).map_err(|e| {
            format!(
                "{setting} \"{}\" holds a certificate that cannot be a CA: {e}",
                path.display()
            )
        })?;
    }
    Ok(Arc::new(store))
}

/// A certificate chain and its key, checked to belong together.
pub(crate) fn certified_key(
    cert_file: &Path,
    key_file: &Path,
    settings: (&str, &str),
) -> Result<Arc<CertifiedKey>, String> {
    let (cert_setting, key_setting) = settings;
    let chain = certificates(cert_file, cert_setting)?;
    let key_bytes = read(key_file, key_setting)?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        format!(
            "{key_setting} \"{}\" holds no usable private key ({e}); expected an unencrypted PEM key",
            key_file.display()
        )
    })?;
    CertifiedKey::from_der(chain, key, &crate::provider())
        .map_err(|e| {
            format!(
                "{key_setting} \"{}\" does not match {cert_setting} \"{}\": {e}",
                key_file.display(),
                cert_file.display()
            )
        })
        .map(Arc::new)
}
