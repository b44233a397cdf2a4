//! `network { mode hostname port "label" { static to host_network } dns { } }`.

use std::collections::BTreeMap;

use caravan_structs::{DnsConfig, NetworkResource, Port, TaskGroup};

use super::{blocks, check_block, non_negative, single_block};
use crate::ast::Body;
use crate::error::{ParseError, Pos};

const NETWORK_KEYS: &[&str] = &["mode", "hostname", "port", "dns", "mbits"];
const PORT_KEYS: &[&str] = &["static", "to", "host_network", "ignore_collision"];
const DNS_KEYS: &[&str] = &["servers", "searches", "options"];

/// Every `network` block of a group or of a task's `resources`.
pub(super) fn networks(body: &Body) -> Result<Vec<NetworkResource>, ParseError> {
    blocks(body, "network")?.into_iter().map(network).collect()
}

fn network(body: &Body) -> Result<NetworkResource, ParseError> {
    // `cni { args }` (Nomad 1.10) configures CNI plugins, which Caravan does not run.
    check_block(body, "network", NETWORK_KEYS, &[], &["cni"])?;
    let mut network = NetworkResource {
        mode: body.string("mode")?.unwrap_or_default(),
        hostname: body.string("hostname")?.unwrap_or_default(),
        mbits: non_negative(body, "mbits")?,
        ..NetworkResource::default()
    };
    if let Some(dns) = single_block(body, "dns")? {
        check_block(dns, "dns", DNS_KEYS, &[], &[])?;
        network.dns = Some(DnsConfig {
            servers: dns.strings("servers")?.unwrap_or_default(),
            searches: dns.strings("searches")?.unwrap_or_default(),
            options: dns.strings("options")?.unwrap_or_default(),
        });
    }
    for item in body.all("port") {
        let label = body.single_label(item)?;
        let port_body = body.value_object("port", &item.value)?;
        check_block(port_body, &format!("port \"{label}\""), PORT_KEYS, &[], &[])?;
        let port = Port {
            label: label.to_string(),
            value: port_body.int("static")?.unwrap_or_default(),
            to: port_body.int("to")?.unwrap_or_default(),
            host_network: port_body.string("host_network")?.unwrap_or_default(),
            ignore_collision: port_body.bool("ignore_collision")?.unwrap_or_default(),
        };
        let at = |key: &str| port_body.get(key).map_or(item.pos, |i| i.value.pos);
        if let Err(e) = caravan_structs::validate::check_port(&port) {
            let key = if e.contains("mapped") { "to" } else { "static" };
            return Err(body.error_at(at(key), e));
        }
        // Nomad (jobspec2 `normalizeNetworkPorts`): a port with a static number is reserved.
        if port.value > 0 {
            network.reserved_ports.push(port);
        } else {
            network.dynamic_ports.push(port);
        }
    }
    Ok(network)
}

/// Port labels are unique within a group: its networks and its tasks' networks.
pub(super) fn check_port_labels(body: &Body, group: &TaskGroup) -> Result<(), ParseError> {
    let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
    let task_networks = group.tasks.iter().flat_map(|t| &t.resources.networks);
    for network in group.networks.iter().chain(task_networks) {
        for port in network.ports() {
            if seen.insert(&port.label, ()).is_some() {
                return Err(body.error_at(
                    find_port(body, &port.label).unwrap_or(Pos::new(1, 1)),
                    format!(
                        "port label \"{}\" is already in use in this group",
                        port.label
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The position of the last `port "label"` block under `body`.
fn find_port(body: &Body, label: &str) -> Option<Pos> {
    let mut found = None;
    for item in body.iter() {
        if item.key == "port" && item.labels.first().is_some_and(|l| l == label) {
            found = Some(item.pos);
        }
        if let crate::ast::ValueKind::Object(inner) = &item.value.kind
            && let Some(pos) = find_port(inner, label)
        {
            found = Some(pos);
        }
    }
    found
}
