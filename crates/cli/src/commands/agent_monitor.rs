//! `caravan monitor` (Nomad's `command/agent_monitor.go`): streams an agent's log at a
//! level of the caller's choosing, until interrupted or the agent goes away.

use std::io::Write;

use base64::Engine as _;
use caravan_api_client::MonitorQuery;

use crate::flags::FlagSet;
use crate::meta;

const HELP: &str = "Usage: caravan monitor [options]

  Stream log messages of a Caravan agent. The monitor command lets you
  listen for log levels that may be filtered out of the agent's own log:
  for example your agent may only be logging at INFO level, but with the
  monitor command you can set -log-level DEBUG.

  When ACLs are enabled, this command requires a token with the 'agent:read'
  capability.

Monitor Specific Options:

  -log-level <level>
    Sets the log level to monitor (default: INFO)

  -log-include-location
    Include file and line information in each log line

  -node-id <node-id>
    Sets the specific node to monitor

  -server-id <server-id>
    Sets the specific server to monitor (a server's name, or 'leader')

  -json
    Sets log output to JSON format
";

/// One of Nomad's stream frames; heartbeats carry no data.
#[derive(serde::Deserialize)]
struct Frame {
    #[serde(rename = "Data", default)]
    data: Option<String>,
}

/// `caravan monitor [-log-level=] [-node-id=] [-server-id=] [-json]`.
pub fn run(args: &[String]) -> i32 {
    let flags = FlagSet::new()
        .strings(&["log-level", "node-id", "server-id"])
        .bools(&["json", "log-include-location"]);
    let parsed = match meta::parse(flags, args, HELP) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Err(code) = meta::no_arguments(&parsed, "monitor") {
        return code;
    }
    let mut node_id = parsed.string("node-id").unwrap_or_default().to_string();
    let server_id = parsed.string("server-id").unwrap_or_default().to_string();
    if !node_id.is_empty() && !server_id.is_empty() {
        meta::err("Cannot target node and server simultaneously");
        return 1;
    }
    if node_id.len() == 1 {
        meta::err("Node identifier must contain at least two characters.");
        return 1;
    }
    let client = match meta::client(&parsed) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !node_id.is_empty() {
        let nodes = match client.run(|api| api.nodes(&node_id)) {
            Ok(nodes) => nodes.value,
            Err(e) => {
                meta::err(&format!("Error querying node: {e}"));
                return 1;
            }
        };
        match nodes.as_slice() {
            [] => {
                meta::err(&format!("No node(s) with prefix or id {node_id:?} found"));
                return 1;
            }
            [node] => node_id = node.id.to_string(),
            several => {
                let ids: Vec<String> = several.iter().map(|n| n.id.to_string()).collect();
                meta::err(&format!(
                    "Prefix {node_id:?} matched multiple nodes: {}; give more of the ID",
                    ids.join(", ")
                ));
                return 1;
            }
        }
    }
    let query = MonitorQuery {
        log_level: parsed.string("log-level").unwrap_or("info").to_string(),
        log_json: parsed.bool("json"),
        log_include_location: parsed.bool("log-include-location"),
        node_id,
        server_id,
    };
    let reader = match client.stream(|api| api.agent_monitor(&query)) {
        Ok(reader) => reader,
        Err(e) => {
            meta::err(&format!("Error starting monitor: {e}"));
            meta::err(&meta::help_hint("monitor"));
            return 1;
        }
    };
    let frames = serde_json::Deserializer::from_reader(reader).into_iter::<Frame>();
    let mut stdout = std::io::stdout();
    for frame in frames {
        let Ok(frame) = frame else { break };
        let Some(data) = frame.data else { continue };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) else {
            continue;
        };
        if stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return 0;
        }
    }
    meta::err(
        "Remote side ended the monitor! This usually means that the\nremote side has exited or crashed.",
    );
    1
}
