//! A cluster of separate processes on loopback: one server and clients that join it, as
//! the workshop runs them.

use std::time::Duration;

use super::Agent;

/// The free disk (MiB) every test client reports (`client.disk_free_mb`). Clients on one
/// machine all fingerprint the same filesystem, and a CI machine may have little of it
/// free: the workshop's ten allocations of 300 MB each must not fail for that.
pub const TEST_DISK_FREE_MB: i64 = 100_000;

/// A server of one (`bootstrap_expect = 1`) on loopback: the workshop's server config,
/// less `data_dir` and `ports` (the harness sets those).
pub const SERVER_CONFIG: &str = r#"bind_addr = "127.0.0.1"
server {
  enabled          = true
  bootstrap_expect = 1
}
"#;

/// A client agent on loopback that joins the server whose RPC port is `server_rpc`,
/// with `client_extra` inside its `client { }` block and `extra` after it. Its free disk
/// is [`TEST_DISK_FREE_MB`], whatever the machine has.
pub fn client_config(server_rpc: u16, client_extra: &str, extra: &str) -> String {
    format!(
        r#"
bind_addr = "127.0.0.1"

client {{
  enabled      = true
  servers      = ["127.0.0.1:{server_rpc}"]
  disk_free_mb = {TEST_DISK_FREE_MB}
{client_extra}}}

advertise {{
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}}
{extra}"#
    )
}

/// The workshop's `nomad-local-config-client-N.hcl`, less `data_dir` and `ports` and on
/// loopback: `meta { Name = "client-N" }`, telemetry on, and `raw_exec` when asked for
/// (the workshop enables it on client 1 first, then on all three for its spread step).
pub fn workshop_client_config(server_rpc: u16, n: usize, raw_exec: bool) -> String {
    let plugin = if raw_exec {
        "plugin \"raw_exec\" {\n  config {\n    enabled = true\n  }\n}\n"
    } else {
        ""
    };
    client_config(
        server_rpc,
        &format!("  meta {{\n    \"Name\" = \"client-{n}\"\n  }}\n"),
        &format!(
            r#"
{plugin}
telemetry {{
  publish_allocation_metrics = true
  publish_node_metrics       = true
  prometheus_metrics         = true
}}
"#
        ),
    )
}

/// One server and its clients, each its own `caravan agent` process. Dropping it stops
/// them all.
pub struct Cluster {
    pub server: Agent,
    pub clients: Vec<Agent>,
}

impl Cluster {
    /// Starts a server with `server_config` and `clients` clients, client `n` (from 1)
    /// with `client_config(&server, n)`, and waits until every client's node is ready.
    pub fn start(
        server_config: &str,
        clients: usize,
        client_config: impl Fn(&Agent, usize) -> String,
    ) -> Cluster {
        let server = Agent::with_config(&[], server_config);
        let clients = (1..=clients)
            .map(|n| Agent::with_config(&[], &client_config(&server, n)))
            .collect::<Vec<_>>();
        server.wait_for_ready_nodes(clients.len());
        Cluster { server, clients }
    }

    /// Waits until `count` ready nodes have a detected `raw_exec`.
    pub fn wait_for_raw_exec(&self, count: usize, timeout: Duration) {
        let server = &self.server;
        server.eventually(&format!("raw_exec on {count} ready nodes"), timeout, || {
            server.read(|api| api.nodes("")).is_ok_and(|nodes| {
                nodes.as_array().is_some_and(|nodes| {
                    nodes
                        .iter()
                        .filter(|n| {
                            n["Status"] == "ready" && n["Drivers"]["raw_exec"]["Detected"] == true
                        })
                        .count()
                        == count
                })
            })
        });
    }
}
