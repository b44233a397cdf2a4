//! Client nodes as a server knows them once registered.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_structs::{
    CpuResources, DiskResources, DriverInfo, MemoryResources, Node, NodeEligibility, NodeResources,
    NodeStatus,
};

/// A node `id` (named `id`, secret `secret-<id>`, in `dc1`) with 4000 MHz, 4096 MB and
/// 10,000 MB of disk, and a detected, healthy `raw_exec`; status `initializing` (the
/// default) until [`NodeBuilder::ready`].
pub fn node(id: &str) -> NodeBuilder {
    NodeBuilder {
        node: Node {
            id: id.into(),
            secret_id: format!("secret-{id}"),
            name: id.into(),
            datacenter: "dc1".into(),
            node_resources: NodeResources {
                cpu: CpuResources { cpu_shares: 4000 },
                memory: MemoryResources {
                    memory_mb: 4096,
                    memory_max_mb: 0,
                },
                disk: DiskResources { disk_mb: 10_000 },
            },
            drivers: BTreeMap::from([("raw_exec".to_string(), healthy_driver())]),
            ..Node::default()
        },
    }
}

/// A driver fingerprint that says detected and healthy.
pub fn healthy_driver() -> DriverInfo {
    DriverInfo {
        detected: true,
        healthy: true,
        ..DriverInfo::default()
    }
}

/// A node being built.
#[derive(Debug, Clone)]
#[must_use]
pub struct NodeBuilder {
    node: Node,
}

impl NodeBuilder {
    /// Status `ready` and eligible for scheduling.
    pub fn ready(mut self) -> Self {
        self.node.status = NodeStatus::Ready;
        self.node.scheduling_eligibility = NodeEligibility::Eligible;
        self
    }

    setters! { node;
        /// The node's name.
        name: &str => name;
        /// The node's datacenter.
        datacenter: &str => datacenter;
        /// The node's pool.
        node_pool: &str => node_pool;
        /// The node's secret (`""` for none).
        secret: &str => secret_id;
        /// CPU in MHz.
        cpu: i64 => node_resources.cpu.cpu_shares;
        /// Memory in MB.
        memory: i64 => node_resources.memory.memory_mb;
        /// Disk in MB.
        disk: i64 => node_resources.disk.disk_mb;
    }

    /// One fingerprinted attribute (`${attr.<key>}`).
    pub fn attribute(mut self, key: &str, value: &str) -> Self {
        self.node.attributes.insert(key.into(), value.into());
        self
    }

    /// One `meta` entry (`${meta.<key>}`).
    pub fn meta(mut self, key: &str, value: &str) -> Self {
        self.node.meta.insert(key.into(), value.into());
        self
    }

    /// A driver fingerprint, replacing any of that name.
    pub fn driver(mut self, name: &str, info: DriverInfo) -> Self {
        self.node.drivers.insert(name.into(), info);
        self
    }

    /// A `host_volume` of the client's configuration.
    pub fn host_volume(mut self, name: &str, path: &str, read_only: bool) -> Self {
        self.node.host_volumes.insert(
            name.into(),
            caravan_structs::ClientHostVolumeConfig {
                name: name.into(),
                path: path.into(),
                read_only,
            },
        );
        self
    }

    /// The node, shared as state snapshots hold it.
    pub fn arc(self) -> Arc<Node> {
        Arc::new(self.node)
    }
}

builder_end!(NodeBuilder, node: Node);
