//! A service instance in Nomad's own catalogue (`provider = "nomad"`): Nomad's
//! `ServiceRegistration`, one per allocation and service, kept in the servers' state.

use serde::{Deserialize, Serialize};

use crate::{AllocId, NodeId};

/// One registered instance of a service: where an allocation serves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRegistration {
    /// `_nomad-task-<alloc>-<task or group-<group>>-<service>-<port label>`.
    #[serde(rename = "ID")]
    pub id: String,
    pub service_name: String,
    pub namespace: String,
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    pub datacenter: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    #[serde(rename = "AllocID")]
    pub alloc_id: AllocId,
    pub tags: Vec<String>,
    pub address: String,
    pub port: i64,
    pub create_index: u64,
    pub modify_index: u64,
}

impl ServiceRegistration {
    /// Nomad's `MakeAllocServiceID`: a group's services use `group-<group>` where a
    /// task's use the task's name, so the ID names where the service comes from.
    pub fn make_id(alloc_id: &str, owner: &str, service: &str, port_label: &str) -> String {
        format!("_nomad-task-{alloc_id}-{owner}-{service}-{port_label}")
    }

    /// Whether two registrations say the same thing (indexes aside): a client that
    /// registers again what is already there writes nothing.
    pub fn same_as(&self, other: &ServiceRegistration) -> bool {
        ServiceRegistration {
            create_index: 0,
            modify_index: 0,
            ..self.clone()
        } == ServiceRegistration {
            create_index: 0,
            modify_index: 0,
            ..other.clone()
        }
    }
}

/// `GET /v1/services`: the services of one namespace, each with every tag its
/// instances carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRegistrationListStub {
    pub namespace: String,
    pub services: Vec<ServiceRegistrationStub>,
}

/// One service of [`ServiceRegistrationListStub`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceRegistrationStub {
    pub service_name: String,
    pub tags: Vec<String>,
}
