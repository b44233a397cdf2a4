//! TLS between agents and with the CLI (Nomad's `tls` block): a server and a client
//! that speak HTTPS and mutual TLS run a job; plaintext, a foreign CA, a client
//! certificate posing as a server and a node registering without a client certificate
//! are each refused; certificates reload on SIGHUP; `tls ca create` and `tls cert create`
//! make files an agent takes.

mod common;

use std::process::Command;
use std::time::Duration;

use caravan_tls::Role;
use caravan_tls::certgen::CertOptions;
use caravan_tls::outgoing::{CliTls, cli_client};
use common::*;

/// A server of one with everything TLS on, the certificate `server.pem`.
fn tls_server(pki: &TestPki) -> Agent {
    let mut server = Agent::unstarted();
    server.set_config(&format!("{SERVER_CONFIG}{}", pki.tls_block("server")));
    server.use_tls(pki.cli_tls());
    server.spawn(&[]);
    server
}

/// A client of `server` with raw_exec and the certificate `client.pem`.
fn tls_client(server: &Agent, pki: &TestPki) -> Agent {
    let raw_exec = "plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n";
    let mut client = Agent::unstarted();
    client.set_config(&client_config(
        server.rpc_port,
        "",
        &format!("{raw_exec}{}", pki.tls_block("client")),
    ));
    client.use_tls(pki.cli_tls());
    client.spawn(&[]);
    client
}

fn http(tls: &CliTls) -> reqwest::Client {
    cli_client(tls, reqwest::Client::builder().no_proxy()).expect("a TLS client")
}

/// POSTs `body` to `url` and returns the status and body, or the error and its causes.
fn post(client: &reqwest::Client, url: &str, body: &str) -> Result<(u16, String), String> {
    block_on(async {
        let response = client
            .post(url)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        Ok((status, response.text().await.unwrap_or_default()))
    })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[test]
fn a_tls_cluster_runs_a_batch_job_over_https_and_mutual_tls() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    let client = tls_client(&server, &pki);
    server.wait_for_ready_nodes(1);
    assert!(
        !server.log().contains("Neither ACLs nor TLS"),
        "no warning with RPC TLS on"
    );

    let work = tempfile::tempdir().unwrap();
    let job = batch_job_hcl(
        "hello-tls",
        "    task \"t\" {\n      driver = \"raw_exec\"\n      config {\n        command = \"/bin/echo\"\n        args = [\"hello over tls\"]\n      }\n    }\n",
    );
    write(work.path(), "hello.nomad", &job);
    // The CLI over HTTPS with -ca-cert/-client-cert/-client-key (as NOMAD_* variables).
    let run = server.cli(&["job", "run", "hello.nomad"], work.path());
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let alloc = server.wait_for_alloc_status(
        "hello-tls",
        &["complete"],
        "complete",
        Duration::from_secs(20),
    );
    let alloc_id = alloc["ID"].as_str().unwrap();

    // The server forwards the logs call to the client's HTTPS port.
    let logs = server.cli(&["alloc", "logs", alloc_id], work.path());
    assert!(
        stdout(&logs).contains("hello over tls"),
        "{}{}",
        stdout(&logs),
        stderr(&logs)
    );
    // The client agent forwards server calls to the server's RPC port over mutual TLS.
    let status = client.cli(&["job", "status", "hello-tls"], work.path());
    assert!(
        stdout(&status).contains("complete"),
        "{}{}",
        stdout(&status),
        stderr(&status)
    );

    // The flags work as the variables do.
    let ca = pki.path("ca.pem").display().to_string();
    let cert = pki.path("cli.pem").display().to_string();
    let key = pki.path("cli-key.pem").display().to_string();
    let flags = cli_at(
        &server.addr(),
        &[
            "node",
            "status",
            &format!("-ca-cert={ca}"),
            &format!("-client-cert={cert}"),
            &format!("-client-key={key}"),
        ],
        work.path(),
    );
    assert!(
        flags.status.success(),
        "{}{}",
        stdout(&flags),
        stderr(&flags)
    );
    assert!(stdout(&flags).contains("ready"), "{}", stdout(&flags));
}

#[test]
fn plaintext_foreign_certificates_and_clients_posing_as_servers_are_refused() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    server.wait_for_ready_nodes(0);
    let work = tempfile::tempdir().unwrap();

    // Plaintext to the HTTPS port: Go's answer.
    let plain = cli_at(
        &format!("http://127.0.0.1:{}", server.port),
        &["job", "status"],
        work.path(),
    );
    assert!(!plain.status.success());
    assert!(
        stderr(&plain).contains("Client sent an HTTP request to an HTTPS server"),
        "{}",
        stderr(&plain)
    );

    // A CA the agent does not know: the CLI refuses the agent's certificate.
    let other = TestPki::new();
    let foreign = cli_with_tls(
        &server.addr(),
        &other.cli_tls(),
        &["job", "status"],
        work.path(),
    );
    assert!(!foreign.status.success());
    assert!(
        stderr(&foreign).contains("UnknownIssuer"),
        "{}",
        stderr(&foreign)
    );
    // ... and the RPC port refuses a certificate of another CA.
    let stranger = CliTls {
        ca_cert: Some(pki.path("ca.pem")),
        ..other.cli_tls()
    };
    let rpc = format!("https://127.0.0.1:{}", server.rpc_port);
    let refused = post(
        &http(&stranger),
        &format!("{rpc}/v1/internal/raft/vote"),
        "",
    );
    assert!(refused.is_err(), "{refused:?}");

    // A client certificate sending Raft's messages or joining as a server.
    let as_client = http(&pki.tls_as("client"));
    let (status, body) = post(&as_client, &format!("{rpc}/v1/internal/raft/vote"), "").unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("needs a server certificate (server.global.nomad)"),
        "{body}"
    );
    assert!(body.contains("client.global.nomad"), "{body}");
    let serf = format!(
        "https://127.0.0.1:{}/v1/internal/serf/join",
        server.serf_port
    );
    let (status, body) = post(&as_client, &serf, "{}").unwrap();
    assert_eq!(status, 403, "{body}");

    // A "server" holding a client certificate is refused at start...
    let impostor = Agent::unstarted();
    impostor.set_config(&format!("{SERVER_CONFIG}{}", pki.tls_block("client")));
    let exit = impostor.run_to_exit(&[], Duration::from_secs(20));
    assert_eq!(exit.code, Some(1), "{exit:?}");
    assert!(
        exit.stderr
            .contains("a server's certificate must name server.global.nomad"),
        "{}",
        exit.stderr
    );
    // ... and anyone dialling one as a server fails the name check: here the server's
    // own HTTPS port asked for by a dialler that expects server.global.nomad works,
    // while the same dialler fails against an agent with a client certificate.
    let client = {
        let mut client = Agent::unstarted();
        client.set_config(&client_config(
            server.rpc_port,
            "",
            &pki.tls_block("client"),
        ));
        client.use_tls(pki.cli_tls());
        client.spawn(&[]);
        client
    };
    server.wait_for_ready_nodes(1);
    let as_server_name = CliTls {
        server_name: Some(Role::Server.name_in("global")),
        ..pki.cli_tls()
    };
    let to_server = cli_with_tls_name(&server.addr(), &as_server_name, work.path());
    assert!(to_server.status.success(), "{}", stderr(&to_server));
    let to_client = cli_with_tls_name(&client.addr(), &as_server_name, work.path());
    assert!(!to_client.status.success());
    assert!(
        stderr(&to_client).contains("server.global.nomad"),
        "{}",
        stderr(&to_client)
    );
}

/// `caravan agent-info`-like call with `-tls-server-name`.
fn cli_with_tls_name(address: &str, tls: &CliTls, cwd: &std::path::Path) -> std::process::Output {
    let name = tls.server_name.clone().unwrap_or_default();
    cli_with_tls(
        address,
        tls,
        &["server", "members", &format!("-tls-server-name={name}")],
        cwd,
    )
}

#[test]
fn a_node_without_a_client_certificate_cannot_register() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    server.wait_for_ready_nodes(0);
    let register = format!(
        "https://127.0.0.1:{}/v1/internal/node/register",
        server.rpc_port
    );
    let node = serde_json::json!({
        "ID": "7b2c6a4e-1f0e-4d8a-9a57-3c1f0b7d2e11",
        "SecretID": "1c3f5a7e-2b4d-4c6e-8f0a-9b1d3e5f7a9c",
        "Name": "fake",
        "Datacenter": "dc1",
        "Status": "ready",
    })
    .to_string();

    // No certificate at all: the handshake fails.
    let anonymous = CliTls {
        ca_cert: Some(pki.path("ca.pem")),
        ..CliTls::default()
    };
    assert!(post(&http(&anonymous), &register, &node).is_err());
    // The CA's CLI certificate is not a node's.
    let (status, body) = post(&http(&pki.cli_tls()), &register, &node).unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("needs a client certificate (client.global.nomad)"),
        "{body}"
    );
    // Plaintext.
    let plain = post(
        &reqwest::Client::new(),
        &register.replace("https", "http"),
        &node,
    )
    .unwrap();
    assert_eq!(plain.0, 400, "{plain:?}");

    // Nothing registered, so a job has nowhere to go.
    let nodes = server.get_json("/v1/nodes").unwrap();
    assert_eq!(nodes.as_array().map(Vec::len), Some(0), "{nodes}");
    let (status, body) =
        server.send_json(Method::Put, "/v1/jobs", &true_batch_job("nowhere", "dc1"));
    assert_eq!(status, 200, "{body}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.allocations("nowhere").is_empty());

    // A client certificate registers.
    let (status, body) = post(&http(&pki.tls_as("client")), &register, &node).unwrap();
    assert_eq!(status, 200, "{body}");
}

#[test]
fn sighup_reloads_the_certificates_for_new_connections() {
    let pki = TestPki::new();
    let work = tempfile::tempdir().unwrap();
    // The agent reads agent.pem; it starts as the server certificate.
    for suffix in [".pem", "-key.pem"] {
        std::fs::copy(
            pki.path(&format!("server{suffix}")),
            pki.path(&format!("agent{suffix}")),
        )
        .unwrap();
    }
    let mut server = Agent::unstarted();
    server.set_config(&format!("{SERVER_CONFIG}{}", pki.tls_block("agent")));
    server.use_tls(pki.cli_tls());
    server.spawn(&[]);
    server.wait_for_ready_nodes(0);
    let named = |name: &str| CliTls {
        server_name: Some(name.into()),
        ..pki.cli_tls()
    };
    let reloaded = "reloaded.example.com";
    assert!(
        !cli_with_tls_name(&server.addr(), &named(reloaded), work.path())
            .status
            .success()
    );

    // A new certificate that also names reloaded.example.com.
    let mut options = CertOptions::new(Role::Server, "global");
    options.dns_names = vec![reloaded.into()];
    pki.write_cert(options, "agent");
    // Not before the signal.
    assert!(
        !cli_with_tls_name(&server.addr(), &named(reloaded), work.path())
            .status
            .success()
    );
    let pid = server.pid().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    server.eventually("the new certificate", Duration::from_secs(10), || {
        cli_with_tls_name(&server.addr(), &named(reloaded), work.path())
            .status
            .success()
    });
    assert!(
        server.log().contains("reloaded the TLS certificates"),
        "{}",
        server.log()
    );

    // A broken file keeps the certificate in use.
    std::fs::write(pki.path("agent.pem"), "garbage").unwrap();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    server.eventually("the failed reload", Duration::from_secs(10), || {
        server
            .log()
            .contains("reloading the TLS certificates failed")
    });
    assert!(
        cli_with_tls_name(&server.addr(), &named(reloaded), work.path())
            .status
            .success()
    );
}

#[test]
fn tls_ca_and_cert_create_make_files_an_agent_takes() {
    let work = tempfile::tempdir().unwrap();
    let tls = |args: &[&str]| {
        let mut all = vec!["tls"];
        all.extend_from_slice(args);
        cli_at("http://127.0.0.1:1", &all, work.path())
    };
    let ca = tls(&["ca", "create"]);
    assert!(ca.status.success(), "{}", stderr(&ca));
    assert_eq!(
        stdout(&ca),
        "==> CA certificate saved to: nomad-agent-ca.pem\n==> CA certificate key saved to: nomad-agent-ca-key.pem\n"
    );
    let server = tls(&["cert", "create", "-server"]);
    assert!(server.status.success(), "{}", stderr(&server));
    assert_eq!(
        stdout(&server),
        "==> Using CA file nomad-agent-ca.pem and CA key nomad-agent-ca-key.pem\n==> Server Certificate saved to global-server-nomad.pem\n==> Server Certificate key saved to global-server-nomad-key.pem\n"
    );
    assert!(stderr(&server).starts_with("==> WARNING: Server Certificates grants authority"));
    let cli = tls(&["cert", "create", "-cli"]);
    assert!(
        stdout(&cli).contains("==> Cli Certificate saved to global-cli-nomad.pem"),
        "{}",
        stdout(&cli)
    );
    assert!(stdout(&cli).contains("==> CLI Certificate key saved to global-cli-nomad-key.pem"));
    // Existing files are never overwritten.
    let again = tls(&["cert", "create", "-server"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("Certificate file 'global-server-nomad.pem' already exists"));
    let neither = tls(&["cert", "create"]);
    assert!(stderr(&neither).contains("Please provide either -server, -client, or -cli"));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(work.path().join("global-server-nomad-key.pem"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");

    // An agent started with them, and the CLI with the cli certificate.
    let path = |file: &str| work.path().join(file).display().to_string();
    let mut agent = Agent::unstarted();
    agent.set_config(&format!(
        "{SERVER_CONFIG}tls {{\n  http = true\n  rpc = true\n  verify_server_hostname = true\n  ca_file = \"{}\"\n  cert_file = \"{}\"\n  key_file = \"{}\"\n}}\n",
        path("nomad-agent-ca.pem"),
        path("global-server-nomad.pem"),
        path("global-server-nomad-key.pem"),
    ));
    agent.use_tls(CliTls {
        ca_cert: Some(work.path().join("nomad-agent-ca.pem")),
        client_cert: Some(work.path().join("global-cli-nomad.pem")),
        client_key: Some(work.path().join("global-cli-nomad-key.pem")),
        ..CliTls::default()
    });
    agent.spawn(&[]);
    agent.wait_for_ready_nodes(0);
    let members = agent.cli(&["server", "members"], work.path());
    assert!(members.status.success(), "{}", stderr(&members));
    assert!(stdout(&members).contains("alive"), "{}", stdout(&members));
}

#[test]
fn bad_tls_settings_stop_the_agent_with_what_to_fix() {
    let pki = TestPki::new();
    let agent = Agent::unstarted();
    let missing = pki.tls_block("server").replace("server.pem", "missing.pem");
    agent.set_config(&format!("{SERVER_CONFIG}{missing}"));
    let exit = agent.run_to_exit(&[], Duration::from_secs(20));
    assert_eq!(exit.code, Some(1));
    assert!(exit.stderr.contains("tls.cert_file \""), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("missing.pem\" cannot be read"),
        "{}",
        exit.stderr
    );

    agent.set_config(&format!("{SERVER_CONFIG}tls {{\n  rpc = true\n}}\n"));
    let exit = agent.run_to_exit(&[], Duration::from_secs(20));
    assert!(
        exit.stderr.contains("tls.ca_file is required"),
        "{}",
        exit.stderr
    );

    agent.set_config(&format!(
        "{SERVER_CONFIG}tls {{\n  rpc = \"sometimes\"\n}}\n"
    ));
    let exit = agent.run_to_exit(&[], Duration::from_secs(20));
    assert!(exit.stderr.contains("agent.hcl:"), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("\"rpc\" must be true or false"),
        "{}",
        exit.stderr
    );
}

#[test]
fn a_server_without_acls_or_rpc_tls_warns_that_anyone_can_register_a_node() {
    let mut server = Agent::unstarted();
    server.set_config(SERVER_CONFIG);
    server.spawn(&[]);
    server.wait_for_ready_nodes(0);
    server.eventually("the warning", Duration::from_secs(10), || {
        server
            .log()
            .contains("WARNING: Neither ACLs nor TLS on RPC are enabled")
    });
    assert!(
        server.log().contains("tls { rpc = true }"),
        "{}",
        server.log()
    );
}

#[test]
fn three_tls_servers_replicate_forward_and_ping_each_other_over_mutual_tls() {
    let pki = TestPki::new();
    let mut cluster = ServerCluster::configure(3, "", |_| pki.tls_block("server"));
    for server in &mut cluster.servers {
        server.use_tls(pki.cli_tls());
    }
    for i in 0..3 {
        cluster.restart(i);
    }
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let follower = (leader + 1) % 3;

    // A write to a follower goes to the leader's HTTPS port, and Raft's messages carry
    // it to every server.
    let (status, body) = cluster.servers[follower].send_json(
        Method::Put,
        "/v1/jobs",
        &true_batch_job("replicated", NO_CLIENTS),
    );
    assert_eq!(status, 200, "{body}");
    for server in &cluster.servers {
        server.eventually("the job on every server", Duration::from_secs(10), || {
            get_indexed(server, "/v1/job/replicated?stale").is_ok()
        });
    }
    // Membership pings go to the serf ports over mutual TLS.
    let work = tempfile::tempdir().unwrap();
    let leader_agent = &cluster.servers[leader];
    leader_agent.eventually("three alive members", Duration::from_secs(10), || {
        let members = leader_agent.cli(&["server", "members"], work.path());
        stdout(&members).matches(" alive ").count() == 3
    });
}
