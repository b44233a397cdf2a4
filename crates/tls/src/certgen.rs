//! Certificates as `nomad tls ca create` and `nomad tls cert create` make them: an
//! ECDSA P-256 CA, and role certificates signed by it that name
//! `<role>.<region>.nomad`, `localhost` and (for agents) 127.0.0.1, usable both to
//! serve and to connect (agents do both).

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, NameConstraints, SanType,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

use crate::Role;

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

/// `tls ca create`'s options, with Nomad's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaOptions {
    /// Empty: `Nomad Agent CA <serial>`.
    pub common_name: String,
    pub days: u32,
    pub domain: String,
    /// Restrict the CA to `domain`, `localhost`, `nomad` and `additional_domains`.
    pub name_constraint: bool,
    pub additional_domains: Vec<String>,
    pub country: String,
    pub postal_code: String,
    pub province: String,
    pub locality: String,
    pub street_address: String,
    pub organization: String,
    pub organizational_unit: String,
}

impl Default for CaOptions {
    fn default() -> Self {
        CaOptions {
            common_name: String::new(),
            days: 1825,
            domain: "nomad".into(),
            name_constraint: false,
            additional_domains: Vec::new(),
            country: "US".into(),
            postal_code: "94105".into(),
            province: "CA".into(),
            locality: "San Francisco".into(),
            street_address: "101 Second Street".into(),
            organization: "HashiCorp Inc.".into(),
            organizational_unit: "Nomad".into(),
        }
    }
}

/// `tls cert create`'s options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertOptions {
    pub role: Role,
    pub region: String,
    pub domain: String,
    pub days: u32,
    /// `-additional-dnsname`.
    pub dns_names: Vec<String>,
    /// `-additional-ipaddress`.
    pub ip_addresses: Vec<IpAddr>,
}

impl CertOptions {
    /// A certificate of `role` in `region`, domain `nomad`, for a year.
    pub fn new(role: Role, region: &str) -> CertOptions {
        CertOptions {
            role,
            region: region.to_string(),
            domain: "nomad".into(),
            days: 365,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
        }
    }

    /// `<region>-<role>-<domain>`: the files are `<prefix>.pem` and `<prefix>-key.pem`.
    pub fn file_prefix(&self) -> String {
        format!("{}-{}-{}", self.region, self.role.as_str(), self.domain)
    }

    /// The certificate's common name, `<role>.<region>.<domain>`.
    pub fn common_name(&self) -> String {
        format!("{}.{}.{}", self.role.as_str(), self.region, self.domain)
    }

    /// The DNS names and addresses the certificate carries: the extra ones first, then
    /// the role's names in the region (and in `global`, so that the CLI's and Nomad's
    /// defaults work in a region of another name), `localhost`, and 127.0.0.1 for agents.
    pub fn subject_alt_names(&self) -> (Vec<String>, Vec<IpAddr>) {
        let mut dns: Vec<String> = self
            .dns_names
            .iter()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect();
        let mut add = |name: String| {
            if !dns.contains(&name) {
                dns.push(name);
            }
        };
        add(self.common_name());
        add(self.role.name_in(&self.region));
        if self.region != "global" {
            add(self.role.name_in("global"));
        }
        add("localhost".into());
        let mut ips = self.ip_addresses.clone();
        let loopback = IpAddr::from([127, 0, 0, 1]);
        if self.role != Role::Cli && !ips.contains(&loopback) {
            ips.push(loopback);
        }
        (dns, ips)
    }
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = OffsetDateTime::now_utc();
    // A minute of slack for clocks a little behind.
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + Duration::days(i64::from(days));
}

/// A number for the CA's name, as Nomad's CA names carry their serial.
fn name_number() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

/// A new self-signed CA.
pub fn create_ca(options: &CaOptions) -> Result<Pem, String> {
    let key = KeyPair::generate().map_err(|e| format!("generating the CA key: {e}"))?;
    let mut params = CertificateParams::default();
    let common_name = if options.common_name.is_empty() {
        format!("Nomad Agent CA {}", name_number())
    } else {
        options.common_name.clone()
    };
    let name = &mut params.distinguished_name;
    *name = rcgen::DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    for (kind, value) in [
        (DnType::CountryName, &options.country),
        (DnType::StateOrProvinceName, &options.province),
        (DnType::LocalityName, &options.locality),
        (DnType::OrganizationName, &options.organization),
        (DnType::OrganizationalUnitName, &options.organizational_unit),
        (
            DnType::CustomDnType(vec![2, 5, 4, 9]), // streetAddress
            &options.street_address,
        ),
        (
            DnType::CustomDnType(vec![2, 5, 4, 17]), // postalCode
            &options.postal_code,
        ),
    ] {
        if !value.is_empty() {
            name.push(kind, value.as_str());
        }
    }
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    if options.name_constraint {
        let mut domains = vec![
            options.domain.clone(),
            "localhost".to_string(),
            "nomad".to_string(),
        ];
        domains.extend(options.additional_domains.iter().cloned());
        domains.dedup();
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: domains.into_iter().map(GeneralSubtree::DnsName).collect(),
            excluded_subtrees: Vec::new(),
        });
    }
    validity(&mut params, options.days);
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("creating the CA certificate: {e}"))?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A role certificate signed by `ca` (its certificate and key, PEM), checked against
/// the CA before it is returned (a key that is not the CA's is an error here).
pub fn create_cert(ca: &Pem, options: &CertOptions) -> Result<Pem, String> {
    let ca_key = KeyPair::from_pem(&ca.key)
        .map_err(|e| format!("the CA key is not a usable PEM private key: {e}"))?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key)
        .map_err(|e| format!("the CA certificate cannot be read: {e}"))?;
    let (dns, ips) = options.subject_alt_names();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, options.common_name());
    for name in &dns {
        let name = name
            .clone()
            .try_into()
            .map_err(|e| format!("\"{name}\" is not a valid DNS name: {e}"))?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    params
        .subject_alt_names
        .extend(ips.into_iter().map(SanType::IpAddress));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, options.days);
    let key = KeyPair::generate().map_err(|e| format!("generating the key: {e}"))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("signing the certificate: {e}"))?;
    verify_signed_by(&ca.cert, cert.der(), &options.role.name_in(&options.region))?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Checks that `cert` chains to the CA in `ca_pem` and names `name`.
fn verify_signed_by(ca_pem: &str, cert: &CertificateDer<'_>, name: &str) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let ca = ca.map_err(|e| format!("the CA certificate is not valid PEM: {e}"))?;
        roots
            .add(ca)
            .map_err(|e| format!("the CA certificate cannot be a CA: {e}"))?;
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        crate::provider(),
    )
    .build()
    .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    verifier
        .verify_server_cert(cert, &[], &name, &[], UnixTime::now())
        .map(drop)
        .map_err(|e| {
            format!(
                "the new certificate does not verify against the CA (is the key the CA's?): {e}"
            )
        })
}

#[cfg(test)]
mod tests;
