use super::*;
use crate::PeerIdentity;

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

#[test]
fn role_certificates_carry_nomads_names() {
    let cases = [
        (
            Role::Server,
            "global",
            vec!["server.global.nomad", "localhost"],
            true,
        ),
        (
            Role::Client,
            "global",
            vec!["client.global.nomad", "localhost"],
            true,
        ),
        (
            Role::Cli,
            "global",
            vec!["cli.global.nomad", "localhost"],
            false,
        ),
        (
            Role::Server,
            "eu",
            vec!["server.eu.nomad", "server.global.nomad", "localhost"],
            true,
        ),
    ];
    let ca = create_ca(&CaOptions::default()).unwrap();
    for (role, region, names, loopback) in cases {
        let options = CertOptions::new(role, region);
        let pem = create_cert(&ca, &options).unwrap();
        let identity = PeerIdentity::from_der(&der(&pem.cert));
        assert_eq!(identity.dns_names, names, "{role:?} in {region}");
        assert_eq!(
            identity
                .ip_addresses
                .contains(&IpAddr::from([127, 0, 0, 1])),
            loopback
        );
        assert_eq!(
            identity.common_name.as_deref(),
            Some(format!("{}.{region}.nomad", role.as_str()).as_str())
        );
    }
}

#[test]
fn extra_names_and_file_prefix() {
    let mut options = CertOptions::new(Role::Server, "global");
    options.dns_names = vec!["nomad.example.com".into()];
    options.ip_addresses = vec!["10.0.0.5".parse().unwrap()];
    assert_eq!(options.file_prefix(), "global-server-nomad");
    let (dns, ips) = options.subject_alt_names();
    assert_eq!(
        dns,
        ["nomad.example.com", "server.global.nomad", "localhost"]
    );
    assert_eq!(ips.len(), 2);
}

#[test]
fn a_key_that_is_not_the_cas_is_refused() {
    let ca = create_ca(&CaOptions::default()).unwrap();
    let other = create_ca(&CaOptions::default()).unwrap();
    let mixed = Pem {
        cert: ca.cert.clone(),
        key: other.key.clone(),
    };
    let error = create_cert(&mixed, &CertOptions::new(Role::Client, "global")).unwrap_err();
    assert!(error.contains("does not verify against the CA"), "{error}");
}

#[test]
fn name_constrained_ca_signs_its_domain() {
    let options = CaOptions {
        domain: "example.com".into(),
        name_constraint: true,
        ..CaOptions::default()
    };
    let ca = create_ca(&options).unwrap();
    let cert = create_cert(&ca, &CertOptions::new(Role::Server, "global")).unwrap();
    assert!(cert.cert.starts_with("-----BEGIN CERTIFICATE-----"));
}
