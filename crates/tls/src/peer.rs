//! Who is on the other end of a TLS connection, as its certificate says.

use std::net::IpAddr;

use crate::Role;

/// The names of the certificate the peer presented on this connection (a request
/// extension on every request of a TLS connection with a client certificate). The
/// CA already vouched for the certificate during the handshake; these names say what
/// it is for: `server.<region>.nomad`, `client.<region>.nomad`, `cli.<region>.nomad`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The DNS names of the certificate's subject alternative names.
    pub dns_names: Vec<String>,
    /// Its IP addresses.
    pub ip_addresses: Vec<IpAddr>,
    /// Its subject's common name, when it has one.
    pub common_name: Option<String>,
}

impl PeerIdentity {
    /// Reads the names of a DER certificate; one that cannot be parsed has none.
    pub fn from_der(der: &[u8]) -> PeerIdentity {
        use x509_parser::extensions::GeneralName;
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            return PeerIdentity::default();
        };
        let mut identity = PeerIdentity {
            common_name: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string),
            ..PeerIdentity::default()
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => identity.dns_names.push(dns.to_string()),
                    GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                            _ => None,
                        };
                        identity.ip_addresses.extend(ip);
                    }
                    _ => {}
                }
            }
        }
        identity
    }

    /// Whether the certificate names `name` (DNS names compare without case).
    pub fn has_name(&self, name: &str) -> bool {
        self.dns_names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Whether the certificate is one of `role` in `region` (`<role>.<region>.nomad`).
    pub fn is(&self, role: Role, region: &str) -> bool {
        self.has_name(&role.name_in(region))
    }

    /// The names, for messages: `[client.global.nomad localhost]`.
    pub fn describe(&self) -> String {
        format!("[{}]", self.dns_names.join(" "))
    }
}
