//! TLS agents for tests: a CA and role certificates written to a directory of the test,
//! the `tls` block that uses them, and API and CLI clients that present a certificate.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use caravan_api_client::{Client, Config};
use caravan_tls::Role;
use caravan_tls::certgen::{CaOptions, CertOptions, Pem, create_ca, create_cert};
use caravan_tls::outgoing::CliTls;

use super::binary;

/// A CA of its own and a certificate per role in region `global`: `ca.pem`,
/// `server.pem`/`server-key.pem`, `client.pem`/`client-key.pem`, `cli.pem`/`cli-key.pem`
/// in [`TestPki::dir`].
pub struct TestPki {
    pub dir: tempfile::TempDir,
    ca: Pem,
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

impl TestPki {
    /// A new CA and its three role certificates.
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("a directory for certificates");
        let ca = create_ca(&CaOptions::default()).expect("a CA");
        std::fs::write(dir.path().join("ca.pem"), &ca.cert).expect("write ca.pem");
        std::fs::write(dir.path().join("ca-key.pem"), &ca.key).expect("write ca-key.pem");
        let pki = TestPki { dir, ca };
        for role in [Role::Server, Role::Client, Role::Cli] {
            pki.write_cert(CertOptions::new(role, "global"), role.as_str());
        }
        pki
    }

    /// Writes a certificate made with `options` as `<name>.pem` and `<name>-key.pem`.
    pub fn write_cert(&self, options: CertOptions, name: &str) {
        let cert = create_cert(&self.ca, &options).expect("a certificate");
        std::fs::write(self.path(&format!("{name}.pem")), &cert.cert).expect("write cert");
        std::fs::write(self.path(&format!("{name}-key.pem")), &cert.key).expect("write key");
    }

    /// A file of the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// A `tls` block with everything on (HTTPS, mutual TLS on RPC, server names
    /// verified) and the certificate `<name>.pem`, e.g. `server` or `client`.
    pub fn tls_block(&self, name: &str) -> String {
        format!(
            "tls {{\n  http = true\n  rpc  = true\n  verify_server_hostname = true\n  ca_file   = \"{}\"\n  cert_file = \"{}\"\n  key_file  = \"{}\"\n}}\n",
            self.path("ca.pem").display(),
            self.path(&format!("{name}.pem")).display(),
            self.path(&format!("{name}-key.pem")).display(),
        )
    }

    /// The CLI's settings with this CA and the certificate `<name>.pem`.
    pub fn tls_as(&self, name: &str) -> CliTls {
        CliTls {
            ca_cert: Some(self.path("ca.pem")),
            client_cert: Some(self.path(&format!("{name}.pem"))),
            client_key: Some(self.path(&format!("{name}-key.pem"))),
            ..CliTls::default()
        }
    }

    /// The CLI's settings with this CA and the `cli` certificate.
    pub fn cli_tls(&self) -> CliTls {
        self.tls_as("cli")
    }
}

/// An API client for `address` (`https://...`) with `tls`.
pub fn https_client_of(address: &str, tls: &CliTls) -> Client {
    let http = caravan_tls::outgoing::cli_client(tls, caravan_api_client::http_builder())
        .expect("a TLS HTTP client");
    Client::with_http(Config::address(address), http).expect("an API client")
}

/// Runs the CLI in `cwd` against `address` with `tls` passed as `NOMAD_*` variables.
pub fn cli_with_tls(address: &str, tls: &CliTls, args: &[&str], cwd: &Path) -> Output {
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(cwd)
        .env("CARAVAN_ADDR", address)
        .env_remove("NOMAD_ADDR");
    for (var, value) in [
        ("NOMAD_CACERT", &tls.ca_cert),
        ("NOMAD_CLIENT_CERT", &tls.client_cert),
        ("NOMAD_CLIENT_KEY", &tls.client_key),
    ] {
        match value {
            Some(path) => command.env(var, path),
            None => command.env_remove(var),
        };
    }
    command.output().expect("run caravan CLI")
}
