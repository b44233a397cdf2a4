//! Client nodes as the servers know them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{NodeEligibility, NodeId, NodeReservedResources, NodeResources, NodeStatus};

/// A client node (`GET /v1/node/:id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    #[serde(rename = "ID")]
    pub id: NodeId,
    /// Secret shared by the node and the servers; never shown by the API.
    #[serde(rename = "SecretID", skip_serializing_if = "String::is_empty")]
    pub secret_id: String,
    pub datacenter: String,
    pub name: String,
    #[serde(rename = "HTTPAddr")]
    pub http_addr: String,
    pub attributes: BTreeMap<String, String>,
    pub meta: BTreeMap<String, String>,
    pub node_class: String,
    pub node_pool: String,
    pub node_resources: NodeResources,
    pub reserved_resources: NodeReservedResources,
    pub drivers: BTreeMap<String, DriverInfo>,
    /// Set by the servers; a registering node may leave it empty.
    #[serde(with = "crate::status::empty_as_default")]
    pub status: NodeStatus,
    pub status_description: String,
    pub status_updated_at: i64,
    /// `eligible` unless an operator says otherwise; a registering node may leave it
    /// empty.
    #[serde(with = "crate::status::empty_as_default")]
    pub scheduling_eligibility: NodeEligibility,
    pub drain: bool,
    pub events: Vec<NodeEvent>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl Node {
    /// The node without its secret, as the API shows it.
    pub fn redacted(&self) -> Node {
        let mut node = self.clone();
        node.secret_id.clear();
        node
    }

    /// Whether the scheduler may place new allocations here.
    pub fn is_schedulable(&self) -> bool {
        self.status == NodeStatus::Ready
            && !self.drain
            && self.scheduling_eligibility != NodeEligibility::Ineligible
    }

    /// CPU (MHz) and memory (MB) the scheduler can hand out.
    pub fn allocatable(&self) -> (i64, i64) {
        (
            self.node_resources.cpu.cpu_shares - self.reserved_resources.cpu.cpu_shares,
            self.node_resources.memory.memory_mb - self.reserved_resources.memory.memory_mb,
        )
    }

    /// Disk (MB) the node can hand out: its disk minus what is reserved. 0 when the node
    /// reports no disk, which then limits nothing.
    pub fn allocatable_disk_mb(&self) -> i64 {
        self.node_resources.disk.disk_mb - self.reserved_resources.disk.disk_mb
    }
}

/// A driver's fingerprint on a node (`Node.Drivers[name]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DriverInfo {
    pub attributes: BTreeMap<String, String>,
    pub detected: bool,
    pub healthy: bool,
    pub health_description: String,
    pub update_time: String,
}

/// An entry of `Node.Events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeEvent {
    pub message: String,
    pub subsystem: String,
    pub details: BTreeMap<String, String>,
    /// RFC 3339 time, as Nomad's Go `time.Time` marshals.
    pub timestamp: String,
    pub create_index: u64,
}
