//! Client nodes as a server knows them once registered.

use std::collections::BTreeMap;
use std::sync::Arc;

use caravan_structs::{
    CpuResources, DiskResources, DriverInfo, MemoryResources, NODE_ELIGIBLE, NODE_STATUS_READY,
    Node, NodeResources,
};

/// A node `id` (named `id`, secret `secret-<id>`, in `dc1`) with 4000 MHz, 4096 MB and
/// 10,000 MB of disk, and a detected, healthy `raw_exec`; no status until
/// [`NodeBuilder::ready`].
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
        self.node.status = NODE_STATUS_READY.into();
        self.node.scheduling_eligibility = NODE_ELIGIBLE.into();
        self
    }

    /// The node's name.
    pub fn name(mut self, name: &str) -> Self {
        self.node.name = name.into();
        self
    }

    /// The node's datacenter.
    pub fn datacenter(mut self, datacenter: &str) -> Self {
        self.node.datacenter = datacenter.into();
        self
    }

    /// The node's pool.
    pub fn node_pool(mut self, pool: &str) -> Self {
        self.node.node_pool = pool.into();
        self
    }

    /// The node's secret (`""` for none).
    pub fn secret(mut self, secret: &str) -> Self {
        self.node.secret_id = secret.into();
        self
    }

    /// CPU in MHz.
    pub fn cpu(mut self, mhz: i64) -> Self {
        self.node.node_resources.cpu.cpu_shares = mhz;
        self
    }

    /// Memory in MB.
    pub fn memory(mut self, mb: i64) -> Self {
        self.node.node_resources.memory.memory_mb = mb;
        self
    }

    /// Disk in MB.
    pub fn disk(mut self, mb: i64) -> Self {
        self.node.node_resources.disk.disk_mb = mb;
        self
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

    /// Any other change to the node.
    pub fn with(mut self, edit: impl FnOnce(&mut Node)) -> Self {
        edit(&mut self.node);
        self
    }

    /// The node.
    pub fn build(self) -> Node {
        self.node
    }

    /// The node, shared as state snapshots hold it.
    pub fn arc(self) -> Arc<Node> {
        Arc::new(self.node)
    }
}

impl From<NodeBuilder> for Node {
    fn from(builder: NodeBuilder) -> Node {
        builder.build()
    }
}
