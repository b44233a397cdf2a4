//! Node bodies: the list entry, eligibility and drain updates and their answer.

use std::collections::BTreeMap;

use caravan_structs::{DriverInfo, EvalId, Node, NodeEligibility, NodeId, NodeStatus};
use serde::{Deserialize, Serialize};

/// `GET /v1/nodes` entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeListStub {
    #[serde(rename = "ID")]
    pub id: NodeId,
    pub address: String,
    pub datacenter: String,
    pub name: String,
    pub node_class: String,
    pub node_pool: String,
    pub version: String,
    pub drain: bool,
    pub scheduling_eligibility: NodeEligibility,
    pub status: NodeStatus,
    pub status_description: String,
    pub drivers: BTreeMap<String, DriverInfo>,
    /// Only with `?os=true`: the node's `os.name` (Nomad's `NodeStubFields.OS`).
    pub attributes: Option<BTreeMap<String, String>>,
    /// Only with `?resources=true` (Nomad's `NodeStubFields.Resources`).
    pub node_resources: Option<caravan_structs::NodeResources>,
    /// Only with `?resources=true`.
    pub reserved_resources: Option<caravan_structs::NodeReservedResources>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Which optional fields a node list entry carries (`?resources=true`, `?os=true`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStubFields {
    pub resources: bool,
    pub os: bool,
}

impl NodeListStub {
    /// The list entry for a node.
    pub fn new(node: &Node) -> NodeListStub {
        NodeListStub {
            id: node.id.clone(),
            address: node
                .attributes
                .get("unique.network.ip-address")
                .cloned()
                .unwrap_or_default(),
            datacenter: node.datacenter.clone(),
            name: node.name.clone(),
            node_class: node.node_class.clone(),
            node_pool: node.node_pool.clone(),
            version: node
                .attributes
                .get("nomad.version")
                .cloned()
                .unwrap_or_default(),
            drain: node.drain,
            scheduling_eligibility: node.scheduling_eligibility,
            status: node.status,
            status_description: node.status_description.clone(),
            drivers: node.drivers.clone(),
            attributes: None,
            node_resources: None,
            reserved_resources: None,
            create_index: node.create_index,
            modify_index: node.modify_index,
        }
    }

    /// The list entry with the optional fields the caller asked for.
    pub fn with_fields(node: &Node, fields: NodeStubFields) -> NodeListStub {
        let mut stub = NodeListStub::new(node);
        if fields.resources {
            stub.node_resources = Some(node.node_resources.clone());
            stub.reserved_resources = Some(node.reserved_resources.clone());
        }
        if fields.os {
            let os_name = node.attributes.get("os.name").cloned().unwrap_or_default();
            stub.attributes = Some(BTreeMap::from([("os.name".to_string(), os_name)]));
        }
        stub
    }
}

/// `POST /v1/node/:id/eligibility` body (Nomad's `NodeUpdateEligibilityRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeUpdateEligibilityRequest {
    /// The full node ID.
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    /// `eligible` or `ineligible`; empty (`None`) when the caller left it out.
    #[serde(with = "caravan_structs::status::empty_as_none")]
    pub eligibility: Option<NodeEligibility>,
}

impl NodeUpdateEligibilityRequest {
    /// The request that makes `node_id` eligible (`true`) or ineligible.
    pub fn new(node_id: &NodeId, eligible: bool) -> NodeUpdateEligibilityRequest {
        NodeUpdateEligibilityRequest {
            node_id: node_id.clone(),
            eligibility: Some(if eligible {
                NodeEligibility::Eligible
            } else {
                NodeEligibility::Ineligible
            }),
        }
    }
}

pub use caravan_structs::DrainSpec;

/// `POST /v1/node/:id/drain` body (Nomad's `NodeUpdateDrainRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeUpdateDrainRequest {
    /// The full node ID.
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    /// The drain to start; `null` ends a drain.
    pub drain_spec: Option<DrainSpec>,
    /// Make the node eligible again when the drain ends (Nomad sends `!-keep-ineligible`
    /// whether it enables or disables).
    pub mark_eligible: bool,
    /// `-m` and `-meta` (Nomad records them on the node's last drain).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// The answer to an eligibility or drain update (Nomad's
/// `NodeEligibilityUpdateResponse` / `NodeDrainUpdateResponse`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeUpdateResponse {
    /// Evaluations the update created.
    #[serde(rename = "EvalIDs")]
    pub eval_ids: Vec<EvalId>,
    /// Raft index of those evaluations.
    pub eval_create_index: u64,
    /// Raft index of the node update.
    pub node_modify_index: u64,
    /// The write's index (Nomad's `WriteMeta.LastIndex`).
    pub index: u64,
}
