//! `network { port "http" { static to host_network } dns { } }` (`api.NetworkResource`).

use serde::{Deserialize, Serialize};

/// The largest port number.
pub const MAX_PORT: i64 = 65_535;

/// The smallest port the scheduler hands out for `port "x" {}` (Nomad's
/// `DefaultMinDynamicPort`, the client's `min_dynamic_port`).
pub const DEFAULT_MIN_DYNAMIC_PORT: i64 = 20_000;

/// The largest dynamic port (Nomad's `DefaultMaxDynamicPort`, `max_dynamic_port`).
pub const DEFAULT_MAX_DYNAMIC_PORT: i64 = 32_000;

/// The network mode Nomad assumes when `mode` is empty.
pub const NETWORK_MODE_HOST: &str = "host";

/// A group's (or, deprecated, a task's) network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkResource {
    /// `host` (Nomad's behaviour when empty), `bridge`, `none`, `cni/<name>`.
    pub mode: String,
    pub device: String,
    #[serde(rename = "CIDR")]
    pub cidr: String,
    #[serde(rename = "IP")]
    pub ip: String,
    pub hostname: String,
    #[serde(rename = "DNS")]
    pub dns: Option<DnsConfig>,
    /// Ports with a `static` number.
    pub reserved_ports: Vec<Port>,
    /// Ports the scheduler picks.
    pub dynamic_ports: Vec<Port>,
    /// Deprecated bandwidth request (`mbits`), kept as written.
    #[serde(rename = "MBits")]
    pub mbits: Option<i64>,
}

impl NetworkResource {
    /// The mode, `host` when unset.
    pub fn mode(&self) -> &str {
        if self.mode.is_empty() {
            NETWORK_MODE_HOST
        } else {
            &self.mode
        }
    }

    /// Every port, static first, as Nomad iterates them for validation.
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.reserved_ports.iter().chain(&self.dynamic_ports)
    }
}

/// `port "label" { static to host_network }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Port {
    pub label: String,
    /// The static host port; 0 for dynamic ports.
    pub value: i64,
    /// The port inside the task's network namespace; 0 = same as the host port, -1 = the
    /// dynamic host port.
    pub to: i64,
    pub host_network: String,
    pub ignore_collision: bool,
}

/// One port an allocation holds on its node (`AllocatedPortMapping`), as
/// `AllocatedResources.Shared.Ports` lists them: `{"Label","Value","To","HostIP"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocatedPortMapping {
    pub label: String,
    /// The host port.
    pub value: i64,
    /// The port inside the task's network namespace; 0 when not mapped.
    pub to: i64,
    /// The node address the port is on.
    #[serde(rename = "HostIP")]
    pub host_ip: String,
}

/// `dns { servers searches options }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DnsConfig {
    pub servers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}
