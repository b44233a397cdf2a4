//! The listener and the outgoing clients together, on loopback: mutual TLS, the peer's
//! names reaching the handler, role names checked by dialling clients, plaintext and
//! foreign certificates refused, and a reload seen by new connections.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use caravan_tls::certgen::{CaOptions, CertOptions, Pem, create_ca, create_cert};
use caravan_tls::outgoing::{CliTls, PeerCheck, agent_client, cli_client};
use caravan_tls::{
    AgentIdentity, ClientAuth, ListenerTls, MinVersion, PeerIdentity, Role, TlsFiles,
};

/// A CA and one certificate per role, written to a directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: Pem,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = create_ca(&CaOptions::default()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca.cert).unwrap();
        let pki = Pki { dir, ca };
        for role in [Role::Server, Role::Client, Role::Cli] {
            pki.write_cert(role, role.as_str());
        }
        pki
    }

    fn write_cert(&self, role: Role, name: &str) {
        let cert = create_cert(&self.ca, &CertOptions::new(role, "global")).unwrap();
        std::fs::write(self.path(&format!("{name}.pem")), &cert.cert).unwrap();
        std::fs::write(self.path(&format!("{name}-key.pem")), &cert.key).unwrap();
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.path().join(file)
    }

    fn files(&self, name: &str) -> TlsFiles {
        TlsFiles {
            ca_file: self.path("ca.pem"),
            cert_file: self.path(&format!("{name}.pem")),
            key_file: self.path(&format!("{name}-key.pem")),
        }
    }

    fn identity(&self, name: &str) -> Arc<AgentIdentity> {
        AgentIdentity::load(self.files(name), MinVersion::Tls12).unwrap()
    }
}

/// Answers the names of the caller's certificate, `-` for none.
async fn whoami(identity: Option<axum::Extension<PeerIdentity>>) -> String {
    identity
        .map(|axum::Extension(id)| id.dns_names.join(","))
        .unwrap_or_else(|| "-".into())
}

/// Serves `whoami` with `tls`; returns the port and the stop switch.
async fn listen(tls: ListenerTls) -> (u16, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = Router::new().route("/whoami", get(whoami));
    tokio::spawn(caravan_tls::serve(listener, Some(tls), app, stopped));
    (port, stop)
}

fn mutual(identity: Arc<AgentIdentity>) -> ListenerTls {
    ListenerTls {
        identity,
        client_auth: ClientAuth::Required,
        accept_plaintext: false,
    }
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().no_proxy()
}

async fn get_text(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client.get(url).send().await.map_err(|e| chain(&e))?;
    response.text().await.map_err(|e| chain(&e))
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn server_check() -> PeerCheck {
    PeerCheck::Named(vec![Role::Server.name_in("global")])
}

#[tokio::test]
async fn mutual_tls_names_the_peer_and_checks_the_servers_role() {
    let pki = Pki::new();
    let (port, _stop) = listen(mutual(pki.identity("server"))).await;
    let url = format!("https://127.0.0.1:{port}/whoami");

    // A client dialling a server by IP verifies server.global.nomad, and the server
    // sees the client's names.
    let client = agent_client(&pki.identity("client"), &server_check(), builder()).unwrap();
    assert_eq!(
        get_text(&client, &url).await.unwrap(),
        "client.global.nomad,localhost"
    );

    // A "server" holding a client certificate fails the dialler's name check.
    let (impostor, _stop2) = listen(mutual(pki.identity("client"))).await;
    let error = get_text(&client, &format!("https://127.0.0.1:{impostor}/whoami"))
        .await
        .unwrap_err();
    assert!(error.contains("server.global.nomad"), "{error}");

    // Without the name check (verify_server_hostname = false) any CA certificate passes.
    let lenient = agent_client(&pki.identity("client"), &PeerCheck::AnyFromCa, builder()).unwrap();
    assert!(
        get_text(&lenient, &format!("https://127.0.0.1:{impostor}/whoami"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn peers_without_a_certificate_from_the_ca_are_refused() {
    let pki = Pki::new();
    let other = Pki::new();
    let (port, _stop) = listen(mutual(pki.identity("server"))).await;
    let url = format!("https://127.0.0.1:{port}/whoami");

    // No client certificate at all.
    let anonymous = cli_client(
        &CliTls {
            ca_cert: Some(pki.path("ca.pem")),
            ..CliTls::default()
        },
        builder(),
    )
    .unwrap();
    assert!(get_text(&anonymous, &url).await.is_err());

    // A certificate of another CA: the server refuses it (and the client refuses the
    // server's, which its CA did not sign).
    let foreign = cli_client(
        &CliTls {
            ca_cert: Some(pki.path("ca.pem")),
            client_cert: Some(other.path("cli.pem")),
            client_key: Some(other.path("cli-key.pem")),
            ..CliTls::default()
        },
        builder(),
    )
    .unwrap();
    assert!(get_text(&foreign, &url).await.is_err());
    let trusts_other =
        agent_client(&other.identity("client"), &PeerCheck::AnyFromCa, builder()).unwrap();
    let error = get_text(&trusts_other, &url).await.unwrap_err();
    assert!(
        error.contains("UnknownIssuer") || error.contains("issuer"),
        "{error}"
    );

    // Plaintext gets Go's 400.
    let plain = builder().build().unwrap();
    let response = plain
        .get(format!("http://127.0.0.1:{port}/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("HTTP request to an HTTPS server")
    );

    // The CLI's certificate works, and -tls-server-name picks the name to verify.
    let cli = cli_client(
        &CliTls {
            ca_cert: Some(pki.path("ca.pem")),
            client_cert: Some(pki.path("cli.pem")),
            client_key: Some(pki.path("cli-key.pem")),
            server_name: Some("server.global.nomad".into()),
            ..CliTls::default()
        },
        builder(),
    )
    .unwrap();
    assert_eq!(
        get_text(&cli, &url).await.unwrap(),
        "cli.global.nomad,localhost"
    );

    // -tls-skip-verify trusts any server, and still presents the certificate.
    let trusting = cli_client(
        &CliTls {
            skip_verify: true,
            client_cert: Some(pki.path("cli.pem")),
            client_key: Some(pki.path("cli-key.pem")),
            ..CliTls::default()
        },
        builder(),
    )
    .unwrap();
    assert_eq!(
        get_text(&trusting, &url).await.unwrap(),
        "cli.global.nomad,localhost"
    );

    // Half a pair, or no CA without -tls-skip-verify, is refused up front.
    let half = CliTls {
        ca_cert: Some(pki.path("ca.pem")),
        client_cert: Some(pki.path("cli.pem")),
        ..CliTls::default()
    };
    let error = cli_client(&half, builder()).unwrap_err();
    assert!(error.contains("-client-key"), "{error}");
    let no_ca = CliTls {
        server_name: Some("x".into()),
        ..CliTls::default()
    };
    let error = cli_client(&no_ca, builder()).unwrap_err();
    assert!(error.contains("-ca-cert"), "{error}");
}

#[tokio::test]
async fn upgrade_mode_serves_plaintext_without_identity() {
    let pki = Pki::new();
    let (port, _stop) = listen(ListenerTls {
        accept_plaintext: true,
        ..mutual(pki.identity("server"))
    })
    .await;
    let plain = builder().build().unwrap();
    assert_eq!(
        get_text(&plain, &format!("http://127.0.0.1:{port}/whoami"))
            .await
            .unwrap(),
        "-"
    );
}

fn copy(pki: &Pki, from: &str, to: &str) {
    for suffix in [".pem", "-key.pem"] {
        std::fs::copy(
            pki.path(&format!("{from}{suffix}")),
            pki.path(&format!("{to}{suffix}")),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_to_new_connections() {
    let pki = Pki::new();
    copy(&pki, "server", "agent");
    let identity = pki.identity("agent");
    let (port, _stop) = listen(mutual(identity.clone())).await;
    let url = format!("https://127.0.0.1:{port}/whoami");
    // Each call a new connection: no pool.
    let dial = |check: PeerCheck| {
        agent_client(
            &pki.identity("cli"),
            &check,
            builder().pool_max_idle_per_host(0),
        )
        .unwrap()
    };
    assert!(get_text(&dial(server_check()), &url).await.is_ok());

    // The files now hold a client certificate; until the reload, nothing changes.
    copy(&pki, "client", "agent");
    assert!(get_text(&dial(server_check()), &url).await.is_ok());
    identity.reload().unwrap();
    let error = get_text(&dial(server_check()), &url).await.unwrap_err();
    assert!(error.contains("server.global.nomad"), "{error}");
    assert_eq!(identity.own_names().dns_names[0], "client.global.nomad");

    // A broken file fails the reload and keeps what was loaded.
    std::fs::write(pki.path("agent.pem"), "not a certificate").unwrap();
    let error = identity.reload().unwrap_err();
    assert!(error.contains("tls.cert_file"), "{error}");
    assert!(get_text(&dial(PeerCheck::AnyFromCa), &url).await.is_ok());
}

#[test]
fn missing_and_mismatched_files_name_the_setting() {
    let pki = Pki::new();
    let mut files = pki.files("server");
    files.ca_file = Path::new("/nonexistent/ca.pem").to_path_buf();
    let error = AgentIdentity::load(files, MinVersion::Tls12).unwrap_err();
    assert!(
        error.starts_with("tls.ca_file \"/nonexistent/ca.pem\" cannot be read"),
        "{error}"
    );

    let mut files = pki.files("server");
    files.key_file = pki.path("client-key.pem");
    let error = AgentIdentity::load(files, MinVersion::Tls12).unwrap_err();
    assert!(error.contains("does not match tls.cert_file"), "{error}");
}
