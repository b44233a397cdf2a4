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
    /// What the node's feasibility depends on, hashed ([`Node::compute_class`]): set by
    /// the servers when the node registers. Nodes of one class pass or fail a job's
    /// constraints, drivers and host volumes alike, unless a constraint names a unique
    /// attribute.
    pub computed_class: String,
    pub node_resources: NodeResources,
    pub reserved_resources: NodeReservedResources,
    pub drivers: BTreeMap<String, DriverInfo>,
    /// The client's `host_volume` blocks, by name.
    pub host_volumes: BTreeMap<String, crate::ClientHostVolumeConfig>,
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
    /// The drain under way (`null` when none): kept until the drain is done.
    pub drain_strategy: Option<DrainStrategy>,
    pub events: Vec<NodeEvent>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// What Nomad leaves out of a node's class: its own attributes (`unique.hostname`,
/// `unique.network.ip-address`, ...) and meta, its ID and its name.
pub(crate) const UNIQUE_PREFIX: &str = "unique.";

impl Node {
    /// Nomad's `ComputeClass`: `v1:` and a hash of what the feasibility checkers read
    /// that nodes may share: datacenter, class, pool, attributes and meta (less the
    /// `unique.` ones), drivers' detection and health, host volumes. FNV-1a, so every
    /// server computes the same class from the same node.
    pub fn compute_class(&self) -> String {
        let mut hash = crate::fnv::Fnv1a::default();
        // Each piece ends with a byte no UTF-8 text holds, so pieces cannot run together.
        let mut feed = |text: &[u8]| {
            hash.write(text);
            hash.write(&[0xff]);
        };
        feed(self.datacenter.as_bytes());
        feed(self.node_class.as_bytes());
        feed(self.node_pool.as_bytes());
        for (label, map) in [(b"attr", &self.attributes), (b"meta", &self.meta)] {
            feed(label);
            for (key, value) in map.iter().filter(|(k, _)| !k.starts_with(UNIQUE_PREFIX)) {
                feed(key.as_bytes());
                feed(value.as_bytes());
            }
        }
        feed(b"drivers");
        for (name, info) in &self.drivers {
            feed(name.as_bytes());
            feed(&[u8::from(info.detected), u8::from(info.healthy)]);
        }
        feed(b"host_volumes");
        for (name, volume) in &self.host_volumes {
            feed(name.as_bytes());
            feed(&[u8::from(volume.read_only)]);
        }
        format!("v1:{}", hash.finish())
    }

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

/// Nomad's `DrainSpec`: `Deadline` is a Go `time.Duration` (nanoseconds; negative
/// forces the allocations off at once, 0 means no deadline).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DrainSpec {
    /// How long allocations may take to move off before they are stopped.
    pub deadline: i64,
    /// Leave system jobs' allocations in place.
    pub ignore_system_jobs: bool,
}

/// Nomad's `DrainStrategy`: the drain a node is under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DrainStrategy {
    pub drain_spec: DrainSpec,
    /// When what is left is forced off (RFC 3339; Go's zero time without a deadline,
    /// the start itself for a forced drain).
    pub force_deadline: String,
    /// RFC 3339.
    pub started_at: String,
}

impl DrainStrategy {
    /// The strategy of a drain that starts at `now` (Unix nanoseconds).
    pub fn starting(spec: DrainSpec, now: i64) -> DrainStrategy {
        let force_deadline = match spec.deadline {
            0 => crate::ZERO_TIME.to_string(),
            d if d < 0 => crate::time::rfc3339(now),
            d => crate::time::rfc3339(now.saturating_add(d)),
        };
        DrainStrategy {
            drain_spec: spec,
            force_deadline,
            started_at: crate::time::rfc3339(now),
        }
    }

    /// Whether what is left must be forced off at `now`: the drain is forced, or its
    /// deadline has passed.
    pub fn deadline_passed(&self, now: i64) -> bool {
        self.drain_spec.deadline < 0
            || (self.drain_spec.deadline > 0
                && crate::time::parse_rfc3339(&self.force_deadline).is_some_and(|d| d <= now))
    }

    /// The deadline (Unix nanoseconds), if the drain has one.
    pub fn force_deadline_nanos(&self) -> Option<i64> {
        crate::time::parse_rfc3339(&self.force_deadline)
    }
}

impl Node {
    /// Whether the drain leaves this node's allocations of a system job in place.
    pub fn drain_ignores_system_jobs(&self) -> bool {
        self.drain_strategy
            .as_ref()
            .is_some_and(|s| s.drain_spec.ignore_system_jobs)
    }

    /// Whether this node's drain has to wait for `alloc` before it is done: the
    /// allocation still runs and is not a system job's the drain leaves in place.
    pub fn drain_waits_for(&self, alloc: &crate::Allocation) -> bool {
        if alloc.terminal() || alloc.client_terminal() {
            return false;
        }
        let system = alloc
            .job
            .as_ref()
            .is_some_and(|j| j.job_type() == crate::JobType::System);
        !(system && self.drain_ignores_system_jobs())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_covers_what_nodes_share_and_leaves_out_what_is_unique() {
        let mut node = Node {
            datacenter: "dc1".into(),
            attributes: BTreeMap::from([("os.name".into(), "debian".into())]),
            drivers: BTreeMap::from([(
                "raw_exec".into(),
                DriverInfo {
                    detected: true,
                    healthy: true,
                    ..DriverInfo::default()
                },
            )]),
            ..Node::default()
        };
        let class = node.compute_class();
        assert!(class.starts_with("v1:"));
        let mut twin = node.clone();
        twin.id = "another".into();
        twin.name = "another".into();
        twin.attributes
            .insert("unique.hostname".into(), "another".into());
        twin.meta.insert("unique.rack-slot".into(), "7".into());
        twin.status_description = "ready".into();
        assert_eq!(twin.compute_class(), class);
        let changes: [&dyn Fn(&mut Node); 6] = [
            &|n| n.datacenter = "dc2".into(),
            &|n| n.node_class = "gpu".into(),
            &|n| n.node_pool = "prod".into(),
            &|n| drop(n.meta.insert("rack".into(), "r1".into())),
            &|n| n.drivers.get_mut("raw_exec").unwrap().healthy = false,
            &|n| {
                n.host_volumes
                    .insert("data".into(), crate::ClientHostVolumeConfig::default());
            },
        ];
        for change in changes {
            let mut other = node.clone();
            change(&mut other);
            assert_ne!(other.compute_class(), class);
        }
        // An attribute's key and value are told apart from the next key's.
        node.attributes = BTreeMap::from([("a".into(), "bc".into())]);
        let split = node.compute_class();
        node.attributes = BTreeMap::from([("ab".into(), "c".into())]);
        assert_ne!(node.compute_class(), split);
    }
}
